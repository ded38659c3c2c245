# What `cmake --install` puts where, and the Debian package CPack makes of
# it: `cmake --build build --target package` → build/kvmscope_VERSION_amd64.deb.
# Only what is listed here is installed (the tests add no install rules);
# scripts/test-package.sh installs the .deb in a clean Debian 12 and removes it.
include(GNUInstallDirs)

install(TARGETS kvmscope RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
# Written by the binary from its own command line (app/CMakeLists.txt).
install(FILES ${CMAKE_BINARY_DIR}/kvmscope.1.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
install(FILES ${CMAKE_BINARY_DIR}/kvmscope.bash-completion
        DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions RENAME kvmscope)
install(FILES ${CMAKE_SOURCE_DIR}/packaging/kvmscope.desktop DESTINATION ${CMAKE_INSTALL_DATADIR}/applications)
install(FILES ${CMAKE_SOURCE_DIR}/packaging/kvmscope.svg
        DESTINATION ${CMAKE_INSTALL_DATADIR}/icons/hicolor/scalable/apps)
# The labs where `kvmscope lab` looks beside the binary (bin/../share/kvmscope/labs,
# app/cmd_lab.cpp), with solutions/: lab 08 names its reference solution
# there and `kvmscope lab lint` runs it.
install(DIRECTORY ${CMAKE_SOURCE_DIR}/labs/ DESTINATION ${CMAKE_INSTALL_DATADIR}/kvmscope/labs)
# The docs, laid out as in the repository so README.md's links work, with
# Debian's copyright file and a changelog naming the git revision.
set(KVMSCOPE_MAINTAINER "kvmscope maintainers <maintainers@users.noreply.b-seed-c2e7f14e.example>")
add_custom_target(kvmscope_changelog ALL
  COMMAND ${CMAKE_COMMAND} -DSRC=${CMAKE_SOURCE_DIR} -DOUT=${CMAKE_BINARY_DIR}/changelog.gz
          -DVERSION=${PROJECT_VERSION} "-DMAINTAINER=${KVMSCOPE_MAINTAINER}" -P ${CMAKE_SOURCE_DIR}/cmake/Changelog.cmake
  BYPRODUCTS ${CMAKE_BINARY_DIR}/changelog.gz VERBATIM)
install(FILES ${CMAKE_SOURCE_DIR}/README.md ${CMAKE_SOURCE_DIR}/packaging/copyright ${CMAKE_BINARY_DIR}/changelog.gz
        DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(DIRECTORY ${CMAKE_SOURCE_DIR}/docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR}/docs)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME kvmscope)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "kvmscope")
set(CPACK_PACKAGE_CONTACT "${KVMSCOPE_MAINTAINER}")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # kvmscope_0.1.0_amd64.deb
set(CPACK_DEBIAN_PACKAGE_SECTION education)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_COMPRESSION_TYPE xz)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
# Depends: the shared libraries the binary links, as dpkg-shlibdeps finds
# them (package dpkg-dev); nothing else is needed to run it.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# `run --guest-asm` and the labs' own-guest steps run as, ld and objcopy;
# the window's text is DejaVu where installed (ui/gui.cpp: scalable, with the
# arrows and symbols the texts use), else ImGui's small ASCII-only font.
# (Mesa's software OpenGL comes with libglfw3 → libgl1 → libglx-mesa0.)
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "binutils, fonts-dejavu-core")
# setcap, for a lab room whose students run kvmscope without root (see
# README.md, "Install on lab machines").
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "libcap2-bin")
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
    "watch Linux KVM run a virtual machine
A built-in VMM runs small, real, self-checking guests on /dev/kvm and shows
every KVM_RUN and every exit; eBPF programs show what the host kernel did
for each, with real kernel call stacks. A desktop window (for lectures on a
projector), a terminal walk-through, guided labs graded from a student's
own traces, JSON and Chrome/Perfetto trace export, and the same views over
any VM on the machine (QEMU and other VMMs, by pid).")

include(CPack)
