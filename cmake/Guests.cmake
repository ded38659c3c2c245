# Builds the guests: each vmm/guests/NAME.S is preprocessed (for abi.h),
# assembled with GNU as, linked at its load address into an ELF (kept for
# disassembly and source lines) and flattened with objcopy into NAME.bin,
# which is then embedded into a generated C++ source as a byte array, with
# the source text and its address → line table.
find_program(KVMSCOPE_LD ld REQUIRED)
find_program(KVMSCOPE_OBJCOPY objcopy REQUIRED)
find_program(KVMSCOPE_OBJDUMP objdump REQUIRED)

# kvmscope_add_guests(OUT_SRC_VAR LOAD_ADDR name...)
function(kvmscope_add_guests out_src load_addr)
  set(gen_dir ${CMAKE_CURRENT_BINARY_DIR}/guests)
  file(MAKE_DIRECTORY ${gen_dir})
  set(srcs)
  foreach(name IN LISTS ARGN)
    set(src ${CMAKE_CURRENT_SOURCE_DIR}/guests/${name}.S)
    set(obj ${gen_dir}/${name}.o)
    set(elf ${gen_dir}/${name}.elf)
    set(bin ${gen_dir}/${name}.bin)
    set(cpp ${gen_dir}/${name}_image.cpp)
    set(lines ${gen_dir}/${name}.lines)
    string(MAKE_C_IDENTIFIER ${name} ident)
    add_custom_command(
      OUTPUT ${bin} ${elf} ${lines}
      COMMAND ${CMAKE_C_COMPILER} -c -x assembler-with-cpp -m64 -nostdlib -g
              -I${CMAKE_SOURCE_DIR} -Wa,--noexecstack -o ${obj} ${src}
      COMMAND ${KVMSCOPE_LD} -m elf_x86_64 -N -e _start -Ttext=${load_addr}
              --no-warn-rwx-segments -o ${elf} ${obj}
      COMMAND ${KVMSCOPE_OBJCOPY} -O binary ${elf} ${bin}
      # address -> line of NAME.S, from the DWARF line table (-g): the
      # inspector shows the source line of the instruction that exited.
      COMMAND ${KVMSCOPE_OBJDUMP} --dwarf=decodedline ${elf} > ${lines}
      DEPENDS ${src} ${CMAKE_SOURCE_DIR}/vmm/guests/abi.h
      COMMENT "Assembling guest ${name}"
      VERBATIM)
    add_custom_command(
      OUTPUT ${cpp}
      COMMAND ${CMAKE_COMMAND} -DIN=${bin} -DOUT=${cpp} -DIDENT=${ident}
              -DSRC=${src} -DLINES=${lines} -DNAME=${name}
              -P ${CMAKE_SOURCE_DIR}/cmake/EmbedGuest.cmake
      DEPENDS ${bin} ${lines} ${src} ${CMAKE_SOURCE_DIR}/cmake/EmbedGuest.cmake
      COMMENT "Embedding guest ${name}"
      VERBATIM)
    list(APPEND srcs ${cpp})
  endforeach()
  set(${out_src} ${srcs} PARENT_SCOPE)
endfunction()
