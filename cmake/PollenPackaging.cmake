# Debian packages (.deb) with CPack.
#
#   cmake --build build --target package        # builds, then packages
#   cd build && cpack -G DEB                     # packages what is built
#
# gives two packages in the build directory, named <package>_<version>_<arch>.deb:
#
#   pollen_0.1.0_amd64.deb          /usr/bin/pollen, /usr/bin/pollen-superlink-lite,
#                                   /usr/share/pollen/zoo/export_zoo.py, and, when
#                                   jetson/pollen.service exists at configure time, the unit
#                                   /usr/lib/systemd/system/pollen.service (ExecStart
#                                   /usr/bin/pollen) with /usr/share/pollen/client.json.example.
#                                   Depends: LibTorch, gRPC, protobuf, ... (dpkg-shlibdeps).
#   libpollen-dev_0.1.0_amd64.deb   static libraries (debug information stripped), headers,
#                                   and the CMake package (find_package(Pollen)) in /usr/lib
#                                   and /usr/include; depends on pollen (= 0.1.0) and on the
#                                   -dev packages that PollenConfig.cmake looks for.
#
# Install on a device:   sudo apt install ./pollen_0.1.0_arm64.deb   (apt brings the libraries)
#                        then edit /etc/pollen/client.json and: sudo systemctl enable --now pollen
# Look inside:           dpkg-deb -I pollen_0.1.0_amd64.deb; dpkg-deb -c pollen_0.1.0_amd64.deb
# Unpack without root:   dpkg -x pollen_0.1.0_amd64.deb DIR && DIR/usr/bin/pollen --version
#
# With the unit, pollen's maintainer scripts do what jetson/install.sh does: postinst creates
# the system user and group "pollen" (in group "video" for the GPU) and
# /etc/pollen/client.json from the example when there is none, and reloads systemd; it does
# not enable the service (the configuration needs editing first). Removing the package stops
# and disables the service; purging it also removes /etc/pollen/client.json.
#
# The version is project()'s; the packages install under /usr whatever CMAKE_INSTALL_PREFIX
# is (a plain `cmake --install` still uses CMAKE_INSTALL_PREFIX). The architecture is
# `dpkg --print-architecture`'s, or, when cross-compiling, the toolchain's
# CMAKE_SYSTEM_PROCESSOR's (aarch64 -> arm64): a build configured with
# toolchains/aarch64-linux-gnu.cmake gives pollen_0.1.0_arm64.deb. dpkg-shlibdeps computes
# pollen's Depends in native builds; it cannot read a sysroot, so cross builds (and hosts
# without dpkg-shlibdeps) use the list for Debian 12 below. -DPOLLEN_DEB_DEPENDS="..."
# replaces the computed or listed Depends, for other distributions (Ubuntu, JetPack); with
# the unit, passwd (useradd) is added to either.
# Programs are stripped. tests/package/ builds the packages and checks them
# (ctest -L package).
#
# The install() rules elsewhere name no component, so everything they install is CPack's
# "Unspecified" component. The program rules are repeated here in component `pollen`
# (EXCLUDE_FROM_ALL: a plain install does not copy them twice); "Unspecified" becomes
# libpollen-dev, and a CPack pre-build step removes from it every file that `pollen` ships.
if(CMAKE_VERSION VERSION_LESS 3.19)
  message(STATUS "Packaging: CMake ${CMAKE_VERSION} lacks CPACK_PRE_BUILD_SCRIPTS (3.19); "
                 "no package target")
  return()
endif()

set(POLLEN_PACKAGE_MAINTAINER "Pollen maintainers <maintainers@pollen.invalid>" CACHE STRING
    "Maintainer field of the .deb packages")
set(POLLEN_DEB_DEPENDS "" CACHE STRING
    "Depends of the pollen .deb, replacing the computed one (empty: dpkg-shlibdeps or the list)")

# --- What the `pollen` package holds --------------------------------------------------------
install(TARGETS pollen pollen-superlink-lite
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT pollen EXCLUDE_FROM_ALL)
if(POLLEN_WITH_TORCH)
  install(PROGRAMS ${PROJECT_SOURCE_DIR}/models/zoo/export_zoo.py
    DESTINATION ${CMAKE_INSTALL_DATADIR}/pollen/zoo COMPONENT pollen EXCLUDE_FROM_ALL)
endif()

# The systemd unit, and the configuration example it reads, from jetson/. The unit's
# ExecStart names the program's installed path: /usr/bin/pollen in the package, and
# <prefix>/bin/pollen, worked out when installing, in a plain install (both from the one
# line `ExecStart=/usr/local/bin/pollen ...` of jetson/pollen.service).
if(NOT DEFINED POLLEN_SYSTEMD_UNIT)
  set(POLLEN_SYSTEMD_UNIT ${PROJECT_SOURCE_DIR}/jetson/pollen.service)
endif()
set(POLLEN_CLIENT_CONFIG_EXAMPLE ${PROJECT_SOURCE_DIR}/jetson/client.json.example)
if(IS_DIRECTORY ${PROJECT_SOURCE_DIR}/jetson)
  # Configure again when a file appears in or leaves jetson/, so the unit is packaged.
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/jetson)
endif()
set(POLLEN_PACKAGE_HAS_UNIT OFF)
if(EXISTS ${POLLEN_SYSTEMD_UNIT})
  set(POLLEN_PACKAGE_HAS_UNIT ON)
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${POLLEN_SYSTEMD_UNIT})
  set(_pollen_exec_re "(^|\n)ExecStart=[^ \n]*/pollen([ \n])")
  file(READ ${POLLEN_SYSTEMD_UNIT} _pollen_unit)
  if(NOT _pollen_unit MATCHES "${_pollen_exec_re}")
    message(WARNING "${POLLEN_SYSTEMD_UNIT} has no line ExecStart=.../pollen ...: "
                    "packaged and installed as it is")
  endif()
  # The package's copy.
  string(REGEX REPLACE "${_pollen_exec_re}" "\\1ExecStart=/usr/${CMAKE_INSTALL_BINDIR}/pollen\\2"
         _pollen_unit "${_pollen_unit}")
  file(CONFIGURE OUTPUT ${PROJECT_BINARY_DIR}/packaging/deb/pollen.service
       CONTENT "${_pollen_unit}")
  install(FILES ${PROJECT_BINARY_DIR}/packaging/deb/pollen.service
    DESTINATION lib/systemd/system COMPONENT pollen EXCLUDE_FROM_ALL)
  # A plain install's copy (also /usr/local/lib/systemd/system, which systemd reads). In
  # "Unspecified", so cpack's staging copy is one of the files removed from libpollen-dev.
  file(CONFIGURE OUTPUT ${PROJECT_BINARY_DIR}/packaging/install_unit.cmake CONTENT [=[
file(READ "@POLLEN_SYSTEMD_UNIT@" unit)
string(REGEX REPLACE "(^|\n)ExecStart=[^ \n]*/pollen([ \n])"
       "\\1ExecStart=${CMAKE_INSTALL_PREFIX}/@CMAKE_INSTALL_BINDIR@/pollen\\2" unit "${unit}")
# One scratch file per destination: installs to other prefixes may run at the same time.
string(MD5 dest "$ENV{DESTDIR}${CMAKE_INSTALL_PREFIX}")
file(WRITE "@PROJECT_BINARY_DIR@/packaging/install/${dest}/pollen.service" "${unit}")
file(INSTALL "@PROJECT_BINARY_DIR@/packaging/install/${dest}/pollen.service"
     DESTINATION "${CMAKE_INSTALL_PREFIX}/lib/systemd/system")
]=] @ONLY)
  install(SCRIPT ${PROJECT_BINARY_DIR}/packaging/install_unit.cmake)

  if(EXISTS ${POLLEN_CLIENT_CONFIG_EXAMPLE})
    install(FILES ${POLLEN_CLIENT_CONFIG_EXAMPLE}
      DESTINATION ${CMAKE_INSTALL_DATADIR}/pollen COMPONENT pollen)
  endif()
endif()

# --- Architecture -------------------------------------------------------------------------
if(CMAKE_CROSSCOMPILING)
  string(TOLOWER "${CMAKE_SYSTEM_PROCESSOR}" _pollen_cpu)
  if(_pollen_cpu MATCHES "^(aarch64|arm64)$")
    set(POLLEN_DEB_ARCH arm64)
  elseif(_pollen_cpu MATCHES "^(x86_64|amd64)$")
    set(POLLEN_DEB_ARCH amd64)
  elseif(_pollen_cpu MATCHES "^arm")
    set(POLLEN_DEB_ARCH armhf)
  elseif(_pollen_cpu MATCHES "^i[3-6]86$")
    set(POLLEN_DEB_ARCH i386)
  elseif(_pollen_cpu STREQUAL "ppc64le")
    set(POLLEN_DEB_ARCH ppc64el)
  else()
    set(POLLEN_DEB_ARCH ${_pollen_cpu})
  endif()
else()
  find_program(POLLEN_DPKG dpkg)
  mark_as_advanced(POLLEN_DPKG)
  if(POLLEN_DPKG)
    execute_process(COMMAND ${POLLEN_DPKG} --print-architecture
      OUTPUT_VARIABLE POLLEN_DEB_ARCH OUTPUT_STRIP_TRAILING_WHITESPACE)
  endif()
  if(NOT POLLEN_DEB_ARCH)
    set(POLLEN_DEB_ARCH amd64)
  endif()
endif()

# --- Dependencies -------------------------------------------------------------------------
# Debian 12 (bookworm), any architecture: what dpkg-shlibdeps finds for a native build.
set(_pollen_bookworm_depends
  "libabsl20220623 (>= 0~20220623.0-1)" "libc6 (>= 2.34)" "libgcc-s1 (>= 3.0)"
  "libgrpc++1.51 (>= 1.51.1)" "libgrpc29 (>= 1.51.1)" "libprotobuf32 (>= 3.21.12)"
  "libssl3 (>= 3.0.0)" "libstdc++6 (>= 11)" "zlib1g (>= 1:1.1.4)")
if(POLLEN_WITH_TORCH)
  list(APPEND _pollen_bookworm_depends "libtorch1.13 (>= 1.13.1+dfsg)")
endif()
find_program(POLLEN_DPKG_SHLIBDEPS dpkg-shlibdeps)
mark_as_advanced(POLLEN_DPKG_SHLIBDEPS)
if(POLLEN_DEB_DEPENDS)
  set(CPACK_DEBIAN_POLLEN_PACKAGE_SHLIBDEPS OFF)
  set(CPACK_DEBIAN_POLLEN_PACKAGE_DEPENDS "${POLLEN_DEB_DEPENDS}")
elseif(POLLEN_DPKG_SHLIBDEPS AND NOT CMAKE_CROSSCOMPILING)
  set(CPACK_DEBIAN_POLLEN_PACKAGE_SHLIBDEPS ON)
else()
  set(CPACK_DEBIAN_POLLEN_PACKAGE_SHLIBDEPS OFF)
  list(JOIN _pollen_bookworm_depends ", " CPACK_DEBIAN_POLLEN_PACKAGE_DEPENDS)
endif()

# libpollen-dev: the exact pollen (PollenTargets.cmake names its programs), and what
# PollenConfig.cmake's find_dependency() calls need (gRPC's CMake package checks for
# grpc_cpp_plugin, which protobuf-compiler-grpc ships).
set(_pollen_dev_depends libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev libssl-dev
    zlib1g-dev nlohmann-json3-dev)
if(POLLEN_WITH_TORCH)
  list(APPEND _pollen_dev_depends libtorch-dev)
endif()
list(JOIN _pollen_dev_depends ", " CPACK_DEBIAN_UNSPECIFIED_PACKAGE_DEPENDS)
set(CPACK_DEBIAN_UNSPECIFIED_PACKAGE_RECOMMENDS "cmake, g++")

# --- CPack --------------------------------------------------------------------------------
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME pollen)
set(CPACK_PACKAGE_VENDOR "Pollen")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "${POLLEN_PACKAGE_MAINTAINER}")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_THREADS 0)  # compress with every core
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL pollen Unspecified)
set(CPACK_COMPONENT_UNSPECIFIED_DEPENDS pollen)
set(CPACK_DEBIAN_ENABLE_COMPONENT_DEPENDS ON)  # libpollen-dev: Depends pollen (= version)

# `cmake --build build --target package_source`: the sources without build trees, the
# sysroot and the data cache.
set(CPACK_SOURCE_GENERATOR TGZ)
set(CPACK_SOURCE_IGNORE_FILES "/\\.git/" "/build[^/]*/" "/\\.cache/" "/out/" "/compile_commands\\.json$")

set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)        # <package>_<version>_<arch>.deb
set(CPACK_DEBIAN_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_DEBIAN_PACKAGE_ARCHITECTURE ${POLLEN_DEB_ARCH})
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${POLLEN_PACKAGE_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_COMPRESSION_TYPE xz)

set(CPACK_DEBIAN_POLLEN_PACKAGE_NAME pollen)
set(CPACK_DEBIAN_POLLEN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_POLLEN_DESCRIPTION
  "Flower SuperNode client for edge devices
pollen connects a device to an unmodified Flower server (SuperLink) over the Fleet API,
fine-tunes a TorchScript model on the device's own data with LibTorch on the CPU or a CUDA
GPU, and replies in Flower's wire format, so stock Flower strategies aggregate it next to
Python clients. Also ships pollen-superlink-lite, a small SuperLink with FedAvg for local
tests.")
set(CPACK_DEBIAN_UNSPECIFIED_PACKAGE_NAME libpollen-dev)
set(CPACK_DEBIAN_UNSPECIFIED_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_UNSPECIFIED_DESCRIPTION
  "Flower SuperNode client for edge devices (development files)
Static libraries, headers and the CMake package of Pollen: find_package(Pollen) gives
pollen::core, pollen::transport, pollen::runtime, pollen::models, ... to build a Flower
client with its own Client or Dataset in C++.")

if(POLLEN_PACKAGE_HAS_UNIT)
  # Maintainer scripts for the unit, doing what jetson/install.sh does: the system user
  # and group "pollen" (in "video" for the GPU), /etc/pollen/client.json from the example
  # when there is none, systemd told about the unit. The service is not enabled: the
  # configuration needs editing first. On removal the service is stopped and disabled; a
  # purge removes /etc/pollen/client.json, and keeps the user and /var/lib/pollen.
  set(_pollen_scripts ${PROJECT_BINARY_DIR}/packaging/deb/scripts)
  file(CONFIGURE OUTPUT ${_pollen_scripts}.in/postinst @ONLY CONTENT [=[#!/bin/sh
set -e
if [ "$1" = configure ]; then
  if ! getent group pollen >/dev/null; then
    groupadd --system pollen
  fi
  if ! getent passwd pollen >/dev/null; then
    useradd --system --gid pollen --home-dir /var/lib/pollen --no-create-home \
            --shell /usr/sbin/nologin --comment "Pollen Flower SuperNode" pollen
  fi
  if getent group video >/dev/null && ! id -nG pollen | tr ' ' '\n' | grep -qx video; then
    usermod -a -G video pollen
  fi
  example=/usr/@CMAKE_INSTALL_DATADIR@/pollen/client.json.example
  if [ ! -e /etc/pollen/client.json ] && [ -f "$example" ]; then
    mkdir -p /etc/pollen
    cp "$example" /etc/pollen/client.json
    chown root:pollen /etc/pollen /etc/pollen/client.json
    chmod 0750 /etc/pollen
    chmod 0640 /etc/pollen/client.json
  fi
  if [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null 2>&1 || true
    if [ -n "$2" ]; then
      systemctl try-restart pollen.service >/dev/null 2>&1 || true
    fi
  fi
  if [ -z "$2" ]; then
    echo "pollen: edit /etc/pollen/client.json (superlink, model, data), then"
    echo "  systemctl enable --now pollen && journalctl -u pollen -f"
  fi
fi
exit 0
]=])
  file(CONFIGURE OUTPUT ${_pollen_scripts}.in/prerm @ONLY CONTENT [=[#!/bin/sh
set -e
if [ "$1" = remove ]; then
  if [ -d /run/systemd/system ]; then
    systemctl stop pollen.service >/dev/null 2>&1 || true
  fi
  systemctl --no-reload disable pollen.service >/dev/null 2>&1 || true
fi
exit 0
]=])
  file(CONFIGURE OUTPUT ${_pollen_scripts}.in/postrm @ONLY CONTENT [=[#!/bin/sh
set -e
if [ "$1" = purge ]; then
  rm -f /etc/pollen/client.json
  rmdir /etc/pollen 2>/dev/null || true
fi
if [ -d /run/systemd/system ]; then
  systemctl daemon-reload >/dev/null 2>&1 || true
fi
exit 0
]=])
  file(COPY ${_pollen_scripts}.in/postinst ${_pollen_scripts}.in/prerm
            ${_pollen_scripts}.in/postrm
       DESTINATION ${_pollen_scripts}
       FILE_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE
                        WORLD_READ WORLD_EXECUTE)
  set(CPACK_DEBIAN_POLLEN_PACKAGE_CONTROL_EXTRA
      ${_pollen_scripts}/postinst ${_pollen_scripts}/prerm ${_pollen_scripts}/postrm)
  set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
  # groupadd, useradd and usermod.
  if(CPACK_DEBIAN_POLLEN_PACKAGE_DEPENDS)
    string(APPEND CPACK_DEBIAN_POLLEN_PACKAGE_DEPENDS ", passwd")
  else()
    set(CPACK_DEBIAN_POLLEN_PACKAGE_DEPENDS passwd)
  endif()
endif()

# Run by cpack once everything is staged: drop from libpollen-dev ("Unspecified") the files
# that pollen ships, and strip the static libraries' debug information as dh_strip does
# (CPACK_STRIP_FILES strips programs only; the libraries are 90% DWARF).
set(CPACK_POLLEN_STRIP "${CMAKE_STRIP}")
set(CPACK_PRE_BUILD_SCRIPTS ${PROJECT_BINARY_DIR}/packaging/split_components.cmake)
file(WRITE ${PROJECT_BINARY_DIR}/packaging/split_components.cmake [=[
set(_runtime "${CPACK_TEMPORARY_DIRECTORY}/pollen")
set(_dev "${CPACK_TEMPORARY_DIRECTORY}/Unspecified")
if(NOT IS_DIRECTORY "${_runtime}" OR NOT IS_DIRECTORY "${_dev}")
  if(CPACK_GENERATOR STREQUAL "DEB")
    message(FATAL_ERROR "split_components: no staged components in ${CPACK_TEMPORARY_DIRECTORY}")
  endif()
  return()  # another generator, all in one package
endif()
file(GLOB_RECURSE _files RELATIVE "${_runtime}" LIST_DIRECTORIES false "${_runtime}/*")
foreach(_f IN LISTS _files)
  file(REMOVE "${_dev}/${_f}")
endforeach()
if(CPACK_STRIP_FILES AND CPACK_POLLEN_STRIP)
  file(GLOB_RECURSE _archives "${_dev}/*.a")
  foreach(_a IN LISTS _archives)
    execute_process(COMMAND "${CPACK_POLLEN_STRIP}" --strip-debug --enable-deterministic-archives
                            "${_a}" RESULT_VARIABLE _rc)
    if(NOT _rc EQUAL 0)
      message(FATAL_ERROR "split_components: ${CPACK_POLLEN_STRIP} failed on ${_a}")
    endif()
  endforeach()
endif()
# Directories left empty (usr/bin, usr/share/pollen/zoo, ...), deepest first.
file(GLOB_RECURSE _dirs LIST_DIRECTORIES true "${_dev}/*")
list(SORT _dirs)
list(REVERSE _dirs)
foreach(_d IN LISTS _dirs)
  if(IS_DIRECTORY "${_d}")
    file(GLOB _entries "${_d}/*")
    if(NOT _entries)
      file(REMOVE_RECURSE "${_d}")
    endif()
  endif()
endforeach()
]=])

# Read by cpack once per generator.
set(CPACK_PROJECT_CONFIG_FILE ${PROJECT_BINARY_DIR}/packaging/cpack_project.cmake)
file(WRITE ${PROJECT_BINARY_DIR}/packaging/cpack_project.cmake [=[
if(CPACK_GENERATOR STREQUAL "DEB")
  # Each package's description starts with its own synopsis line; without this CPackDeb
  # puts the project's DESCRIPTION above both.
  unset(CPACK_PACKAGE_DESCRIPTION_SUMMARY)
else()
  # Only the .deb packages install under /usr; archives (the source package) keep their
  # files at the top.
  unset(CPACK_PACKAGING_INSTALL_PREFIX)
endif()
]=])

include(CPack)
