# A CMake package for gRPC where the distribution ships none.
#
# Ubuntu 22.04 (the base of JetPack 6) packages gRPC 1.30.2 built with
# make, which installs pkg-config files but no gRPCConfig.cmake (Debian's
# packaging switched to gRPC's CMake build at 1.44), so
# find_package(gRPC CONFIG) fails there. Point CMake here instead:
#
#   cmake ... -DgRPC_DIR=<pollen>/jetson/cmake
#
# jetson/build-on-device.sh and toolchains/jetson.cmake do that when the
# system (or sysroot) has no gRPCConfig.cmake of its own. Defines the two
# targets Pollen uses:
#
#   gRPC::grpc++          from pkg-config's grpc++ (libraries and include
#                         directories; PKG_CONFIG_SYSROOT_DIR and
#                         PKG_CONFIG_LIBDIR select a sysroot when
#                         cross-compiling)
#   gRPC::grpc_cpp_plugin the host's grpc_cpp_plugin program, when found
#
# gRPC_VERSION is pkg-config's version of grpc++.

if(TARGET gRPC::grpc++)
  set(gRPC_FOUND TRUE)
  return()
endif()

find_package(PkgConfig QUIET)
if(NOT PKG_CONFIG_FOUND)
  set(gRPC_FOUND FALSE)
  set(gRPC_NOT_FOUND_MESSAGE
      "${CMAKE_CURRENT_LIST_FILE} needs pkg-config to find gRPC (apt-get install pkg-config)")
  return()
endif()

pkg_check_modules(POLLEN_GRPCPP QUIET IMPORTED_TARGET GLOBAL grpc++)
if(NOT POLLEN_GRPCPP_FOUND)
  set(gRPC_FOUND FALSE)
  set(gRPC_NOT_FOUND_MESSAGE
      "pkg-config found no grpc++ (grpc++.pc); install libgrpc++-dev")
  return()
endif()

add_library(gRPC::grpc++ INTERFACE IMPORTED GLOBAL)
set_target_properties(gRPC::grpc++ PROPERTIES INTERFACE_LINK_LIBRARIES PkgConfig::POLLEN_GRPCPP)
set(gRPC_VERSION "${POLLEN_GRPCPP_VERSION}")

if(NOT TARGET gRPC::grpc_cpp_plugin)
  # A code generator: always the host's program, also when cross-compiling.
  find_program(POLLEN_GRPC_CPP_PLUGIN_PROGRAM grpc_cpp_plugin NO_CMAKE_FIND_ROOT_PATH)
  if(POLLEN_GRPC_CPP_PLUGIN_PROGRAM)
    add_executable(gRPC::grpc_cpp_plugin IMPORTED GLOBAL)
    set_target_properties(gRPC::grpc_cpp_plugin PROPERTIES
      IMPORTED_LOCATION "${POLLEN_GRPC_CPP_PLUGIN_PROGRAM}")
  endif()
endif()

set(gRPC_FOUND TRUE)
if(NOT gRPC_FIND_QUIETLY)
  message(STATUS "Found gRPC ${gRPC_VERSION} through pkg-config (${CMAKE_CURRENT_LIST_FILE})")
endif()
