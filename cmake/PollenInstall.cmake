# Installs the libraries, headers and the `pollen` program, and a package
# configuration so other projects can `find_package(Pollen)` and link
# pollen::core, pollen::transport, ...
include(CMakePackageConfigHelpers)

get_property(pollen_targets GLOBAL PROPERTY POLLEN_INSTALL_TARGETS)
install(TARGETS ${pollen_targets}
  EXPORT PollenTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

set(POLLEN_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/Pollen)
install(EXPORT PollenTargets NAMESPACE pollen:: DESTINATION ${POLLEN_CMAKE_DIR})

configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/PollenConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/PollenConfig.cmake
  INSTALL_DESTINATION ${POLLEN_CMAKE_DIR})
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/PollenConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/PollenConfig.cmake
              ${CMAKE_CURRENT_BINARY_DIR}/PollenConfigVersion.cmake
        DESTINATION ${POLLEN_CMAKE_DIR})
