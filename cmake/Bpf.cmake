# BPF programs: vmlinux.h generated at build time from the running kernel's
# BTF, each probes/NAME.bpf.c compiled with clang -target bpf, and a libbpf
# skeleton NAME.skel.h made by bpftool gen skeleton.
find_program(KVMSCOPE_CLANG NAMES clang clang-14)
find_program(KVMSCOPE_BPFTOOL NAMES bpftool PATHS /usr/sbin /sbin)
if(NOT KVMSCOPE_CLANG OR NOT KVMSCOPE_BPFTOOL)
  message(FATAL_ERROR "kvmscope needs clang and bpftool to build its BPF programs: "
                      "apt-get install clang llvm bpftool (scripts/setup.sh does this)")
endif()
set(KVMSCOPE_BTF /sys/kernel/btf/vmlinux CACHE FILEPATH "Kernel BTF for vmlinux.h")
if(NOT EXISTS ${KVMSCOPE_BTF})
  message(FATAL_ERROR "no kernel BTF at ${KVMSCOPE_BTF}: the BPF programs are built against the "
                      "running kernel's types. Use a kernel built with CONFIG_DEBUG_INFO_BTF=y "
                      "or point -DKVMSCOPE_BTF= at a vmlinux with BTF.")
endif()

set(KVMSCOPE_BPF_DIR ${CMAKE_BINARY_DIR}/bpf)
file(MAKE_DIRECTORY ${KVMSCOPE_BPF_DIR})
add_custom_command(
  OUTPUT ${KVMSCOPE_BPF_DIR}/vmlinux.h
  COMMAND ${KVMSCOPE_BPFTOOL} btf dump file ${KVMSCOPE_BTF} format c > vmlinux.h.tmp
  COMMAND ${CMAKE_COMMAND} -E rename vmlinux.h.tmp vmlinux.h
  WORKING_DIRECTORY ${KVMSCOPE_BPF_DIR}
  COMMENT "Generating vmlinux.h from ${KVMSCOPE_BTF}")

# kvmscope_bpf_skeletons(OUT_VAR name...): rules for build/bpf/NAME.skel.h from
# probes/NAME.bpf.c; OUT_VAR receives the skeleton headers.
function(kvmscope_bpf_skeletons out_var)
  set(skeletons)
  foreach(name IN LISTS ARGN)
    set(src ${CMAKE_CURRENT_SOURCE_DIR}/${name}.bpf.c)
    set(obj ${KVMSCOPE_BPF_DIR}/${name}.bpf.o)
    set(skel ${KVMSCOPE_BPF_DIR}/${name}.skel.h)
    # The program's own contract header (NAME.h), where it has one.
    set(deps ${CMAKE_CURRENT_SOURCE_DIR}/kvm_trace.h ${CMAKE_CURRENT_SOURCE_DIR}/kvm_tracepoints.bpf.h
             ${CMAKE_CURRENT_SOURCE_DIR}/kvm_trace_events.bpf.h)
    if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/${name}.h)
      list(APPEND deps ${CMAKE_CURRENT_SOURCE_DIR}/${name}.h)
    endif()
    add_custom_command(
      OUTPUT ${obj}
      COMMAND ${KVMSCOPE_CLANG} -g -O2 -target bpf -D__TARGET_ARCH_x86 -Wall
              -I${KVMSCOPE_BPF_DIR} -I${CMAKE_CURRENT_SOURCE_DIR} -c ${src} -o ${obj}
      DEPENDS ${src} ${KVMSCOPE_BPF_DIR}/vmlinux.h ${deps}
      COMMENT "BPF ${name}.bpf.c")
    add_custom_command(
      OUTPUT ${skel}
      COMMAND ${KVMSCOPE_BPFTOOL} gen skeleton ${obj} name ${name}_bpf > ${skel}.tmp
      COMMAND ${CMAKE_COMMAND} -E rename ${skel}.tmp ${skel}
      DEPENDS ${obj}
      COMMENT "BPF skeleton ${name}.skel.h")
    list(APPEND skeletons ${skel})
  endforeach()
  set(${out_var} ${skeletons} PARENT_SCOPE)
endfunction()
