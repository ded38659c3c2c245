# Writes OUT (changelog.gz, for /usr/share/doc/kvmscope of the Debian
# package) in Debian's changelog format: one entry for this version, naming
# the git revision it is built from and dated by that commit (the project's
# history is its git log). Rewritten only when the text changes.
# Run as: cmake -DSRC=... -DOUT=... -DVERSION=... -DMAINTAINER=... -P Changelog.cmake
execute_process(COMMAND git -C "${SRC}" describe --always --dirty --abbrev=12
                OUTPUT_VARIABLE rev OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET RESULT_VARIABLE rc)
execute_process(COMMAND git -C "${SRC}" log -1 --format=%aD
                OUTPUT_VARIABLE date OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET RESULT_VARIABLE rc2)
if(NOT rc EQUAL 0 OR rev STREQUAL "")
  set(rev "unknown")
endif()
if(NOT rc2 EQUAL 0 OR date STREQUAL "")
  string(TIMESTAMP date "%a, %d %b %Y %H:%M:%S +0000" UTC)
endif()
set(text "kvmscope (${VERSION}) unstable; urgency=medium\n\n  * Built from git revision ${rev}.\n    The project's history is its git log.\n\n -- ${MAINTAINER}  ${date}\n")
get_filename_component(plain "${OUT}" NAME_WLE)
get_filename_component(dir "${OUT}" DIRECTORY)
if(EXISTS "${dir}/${plain}")
  file(READ "${dir}/${plain}" old)
endif()
if(NOT old STREQUAL text OR NOT EXISTS "${OUT}")
  file(WRITE "${dir}/${plain}" "${text}")
  execute_process(COMMAND gzip -9nc "${dir}/${plain}" OUTPUT_FILE "${OUT}" RESULT_VARIABLE gz)
  if(NOT gz EQUAL 0)
    message(FATAL_ERROR "gzip failed on ${dir}/${plain}")
  endif()
endif()
