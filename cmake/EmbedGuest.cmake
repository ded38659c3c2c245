# Script mode: writes OUT, a C++ source defining the flat binary IN and the
# assembly source SRC as kvmscope::vmm::guests::k<IDENT>Image (a span) and
# k<IDENT>Source.
file(READ ${IN} hex HEX)
string(LENGTH "${hex}" hex_len)
math(EXPR size "${hex_len} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string(REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)" "\\1\n  "
       bytes "${bytes}")
file(READ ${SRC} source)
set(delim "kvmsg")  # a raw-string delimiter is at most 16 characters
file(WRITE ${OUT} "// Generated from ${IN} by cmake/EmbedGuest.cmake. Do not edit.\n"
     "#include <cstdint>\n#include <span>\n#include <string_view>\n"
     "namespace kvmscope::vmm::guests {\n"
     "namespace {\nconst uint8_t kBytes[${size}] = {\n  ${bytes}\n};\n}  // namespace\n"
     "extern const std::span<const uint8_t> k${IDENT}Image;\n"
     "const std::span<const uint8_t> k${IDENT}Image{kBytes};\n"
     "extern const std::string_view k${IDENT}Source;\n"
     "const std::string_view k${IDENT}Source = R\"${delim}(${source})${delim}\";\n"
     "}  // namespace kvmscope::vmm::guests\n")
