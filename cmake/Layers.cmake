# The dependency direction between kvmscope's folders, enforced at configure
# time: kvmscope_layer(TARGET ALLOWED a b c) fails if TARGET links a project
# library that is not in ALLOWED.
set(KVMSCOPE_LAYERS kvmscope_knowledge kvmscope_vmm kvmscope_procs kvmscope_probes kvmscope_traces kvmscope_lab kvmscope_ui)

function(kvmscope_layer target)
  cmake_parse_arguments(L "" "" "ALLOWED" ${ARGN})
  get_target_property(links ${target} LINK_LIBRARIES)
  if(NOT links)
    return()
  endif()
  foreach(lib IN LISTS links)
    if(lib IN_LIST KVMSCOPE_LAYERS AND NOT lib IN_LIST L_ALLOWED)
      message(FATAL_ERROR "layering: ${target} must not link ${lib} "
                          "(allowed: ${L_ALLOWED}; see DESIGN.md)")
    endif()
  endforeach()
endfunction()
