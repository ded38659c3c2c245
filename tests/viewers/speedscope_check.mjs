// Imports a Chrome trace event file into speedscope (npm speedscope, its
// built page) in headless Chromium (Debian's, through playwright-core) the way
// a user does, through its file picker, and prints as one JSON line what the
// page shows after the import: its title line, and any page error or alert
// (speedscope reports a failed import with "Something went wrong" and a
// console error). Optionally saves a
// screenshot. Usage: node speedscope_check.mjs FILE [SCREENSHOT.png]
import path from 'node:path';
import {createRequire} from 'node:module';
import {chromium} from 'playwright-core';

const require = createRequire(import.meta.url);
const index = path.join(path.dirname(require.resolve('speedscope/package.json')), 'dist/release/index.html');
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  // As root, and on a machine whose network is closed: no sandbox, no
  // background connections.
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const page = await browser.newPage({viewport: {width: 1400, height: 700}});
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('dialog', async (d) => { errors.push('alert: ' + d.message()); await d.dismiss(); });
  page.on('console', (m) => { if (m.type() === 'error') errors.push('console: ' + m.text()); });
  await page.goto('file://' + index);
  await page.setInputFiles('input[type=file]', path.resolve(process.argv[2]));
  // Imported: the landing page's "Drag and drop" text gives way to the view,
  // whose title line names a thread. Between the two the page may show
  // neither (it is still importing): keep looking, for up to 30 s.
  let title = '';
  for (let i = 0; i < 300 && errors.length === 0; ++i) {
    const text = await page.evaluate(() => document.body.innerText);
    if (text.includes('Something went wrong')) { errors.push(text.trim()); break; }
    if (!text.includes('Drag and drop')) {
      title = text.split('\n').find((l) => l.includes('(tid')) ?? '';
      if (title !== '') break;
    }
    await page.waitForTimeout(100);
  }
  if (process.argv[3]) await page.screenshot({path: process.argv[3]});
  console.log(JSON.stringify({imported: title !== '' && errors.length === 0, title, errors}));
} finally {
  await browser.close();
}
