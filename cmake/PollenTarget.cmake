# pollen_component(<name> SOURCES ... [PUBLIC_DEPS ...] [PRIVATE_DEPS ...])
#
# Declares the static library pollen_<name> with the alias pollen::<name>:
# public headers in <name>/include, sources and private headers in <name>/src.
function(pollen_component name)
  cmake_parse_arguments(ARG "" "" "SOURCES;PUBLIC_DEPS;PRIVATE_DEPS" ${ARGN})
  set(target pollen_${name})
  add_library(${target} STATIC ${ARG_SOURCES})
  add_library(pollen::${name} ALIAS ${target})
  set_target_properties(${target} PROPERTIES EXPORT_NAME ${name} POSITION_INDEPENDENT_CODE ON)
  target_include_directories(${target}
    PUBLIC $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/include>
           $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>
    PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/src)
  target_link_libraries(${target} PUBLIC ${ARG_PUBLIC_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
  pollen_warnings(${target})
  set_property(GLOBAL APPEND PROPERTY POLLEN_INSTALL_TARGETS ${target})
endfunction()

# Warnings for our own code only; never -Werror, never in the public interface.
function(pollen_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra)
  if(POLLEN_SANITIZE)
    target_compile_options(${target} PRIVATE -fsanitize=address,undefined -fno-omit-frame-pointer
                                             -fno-sanitize-recover=undefined)
    target_link_options(${target} PUBLIC $<BUILD_INTERFACE:-fsanitize=address,undefined>)
  endif()
endfunction()
