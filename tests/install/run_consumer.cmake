# ctest script: install the build tree, then configure, build and run the
# consumer project against the installed package only.
file(REMOVE_RECURSE ${POLLEN_SCRATCH})
set(prefix ${POLLEN_SCRATCH}/prefix)

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGN}\n${out}")
  endif()
  message("${out}")
endfunction()

run(${CMAKE_COMMAND} --install ${POLLEN_BUILD_DIR} --prefix ${prefix})
foreach(f lib/cmake/Pollen/PollenConfig.cmake lib/cmake/Pollen/PollenConfigVersion.cmake
          include/pollen/core/status.h include/pollen/core/version.h bin/pollen)
  if(NOT EXISTS ${prefix}/${f})
    message(FATAL_ERROR "install is missing ${f}")
  endif()
endforeach()
run(${CMAKE_COMMAND} -S ${CONSUMER_SOURCE} -B ${POLLEN_SCRATCH}/build -G ${GENERATOR}
    -DCMAKE_BUILD_TYPE=${BUILD_TYPE} -DCMAKE_PREFIX_PATH=${prefix})
run(${CMAKE_COMMAND} --build ${POLLEN_SCRATCH}/build)
run(${POLLEN_SCRATCH}/build/consumer)
run(${prefix}/bin/pollen version)
