# Script mode: writes OUT, a C++ source defining the flat binary IN, the
# assembly source SRC and its line table (LINES: objdump --dwarf=decodedline
# of the guest's ELF; rows of NAME.S only) as
# kvmscope::vmm::guests::k<IDENT>Image (a span), k<IDENT>Source and
# k<IDENT>Lines (address, line pairs in address order).
file(READ ${IN} hex HEX)
string(LENGTH "${hex}" hex_len)
math(EXPR size "${hex_len} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string(REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)" "\\1\n  "
       bytes "${bytes}")
file(READ ${SRC} source)
file(STRINGS ${LINES} line_rows REGEX "^${NAME}\\.S +[0-9]+ +0x[0-9a-f]+")
set(pairs "")
foreach(row IN LISTS line_rows)
  string(REGEX MATCH "^${NAME}\\.S +([0-9]+) +(0x[0-9a-f]+)" _ "${row}")
  string(APPEND pairs "${CMAKE_MATCH_2},${CMAKE_MATCH_1},")
endforeach()
if(pairs STREQUAL "")
  set(pairs "0,0,")  # no table: one pair that names no line
endif()
set(delim "kvmsg")  # a raw-string delimiter is at most 16 characters
file(WRITE ${OUT} "// Generated from ${IN} by cmake/EmbedGuest.cmake. Do not edit.\n"
     "#include <cstdint>\n#include <span>\n#include <string_view>\n"
     "namespace kvmscope::vmm::guests {\n"
     "namespace {\nconst uint8_t kBytes[${size}] = {\n  ${bytes}\n};\n}  // namespace\n"
     "extern const std::span<const uint8_t> k${IDENT}Image;\n"
     "const std::span<const uint8_t> k${IDENT}Image{kBytes};\n"
     "extern const std::string_view k${IDENT}Source;\n"
     "const std::string_view k${IDENT}Source = R\"${delim}(${source})${delim}\";\n"
     "namespace {\nconst uint32_t kLines[] = {${pairs}};\n}  // namespace\n"
     "extern const std::span<const uint32_t> k${IDENT}Lines;\n"
     "const std::span<const uint32_t> k${IDENT}Lines{kLines};\n"
     "}  // namespace kvmscope::vmm::guests\n")
