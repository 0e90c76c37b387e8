# Debian packages from this tree, one per install component:
#
#   package             component  contents
#   libamutex0          runtime    libamutex.so.0, libamutex.so.0.x.y
#   libamutex-dev       dev        headers, libamutex.so, libamutex.a, CMake
#                                  and pkg-config files, man3, amutex(7)
#   libamutex-pthread0  dropin     libamutex-pthread.so*, libamutex-pthread(7)
#
#   cmake -S . -B build/deb -DCMAKE_INSTALL_PREFIX=/usr \
#         -DAMUTEX_BUILD_TESTS=OFF -DAMUTEX_BUILD_BENCH=OFF
#   cmake --build build/deb && (cd build/deb && cpack -G DEB)
#
# docs/packaging.md has the reasons and the SONAME policy; tests/packaging.sh
# builds the packages from a fresh tree and uses them from outside.

get_target_property(AMUTEX_SOVERSION amutex SOVERSION)
set(AMUTEX_DEB_RELEASE 1 CACHE STRING "Debian revision of the packages")
set(AMUTEX_DEB_MAINTAINER "amutex maintainers <maintainers@amutex.invalid>"
  CACHE STRING "Maintainer field of the packages")
set(AMUTEX_DEB_VERSION ${PROJECT_VERSION}-${AMUTEX_DEB_RELEASE})

# The Debian 12 packages of what libamutex links, one line each:
# "runtime package|development package". The runtime package goes into the
# Depends of libamutex0 and libamutex-pthread0 (both are built from the
# same objects), the development package into libamutex-dev's, which the
# static library and amutex.pc's Requires.private need. Versions are what
# dpkg-shlibdeps derives from the symbols used. libxxhash is listed ahead of
# its link (the registry's hashing moves to it); tests/packaging.sh fails if
# a library the .so files need has no line here.
set(AMUTEX_DEB_LINKED
  "libc6 (>= 2.35)|"
  "liburcu8 (>= 0.13.0)|liburcu-dev"
  "libxxhash0 (>= 0.8.0)|libxxhash-dev")

set(amutex_deb_runtime_depends "")
set(amutex_deb_dev_depends "libamutex${AMUTEX_SOVERSION} (= ${AMUTEX_DEB_VERSION})")
foreach(line IN LISTS AMUTEX_DEB_LINKED)
  string(REPLACE "|" ";" pair "${line}")
  list(GET pair 0 runtime)
  list(GET pair 1 dev)
  if(runtime)
    list(APPEND amutex_deb_runtime_depends "${runtime}")
  endif()
  if(dev)
    list(APPEND amutex_deb_dev_depends "${dev}")
  endif()
endforeach()
list(JOIN amutex_deb_runtime_depends ", " amutex_deb_runtime_depends)
list(JOIN amutex_deb_dev_depends ", " amutex_deb_dev_depends)

set(CPACK_PACKAGE_NAME amutex)
set(CPACK_PACKAGE_VENDOR amutex)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "${AMUTEX_DEB_MAINTAINER}")
set(CPACK_PACKAGING_INSTALL_PREFIX "${CMAKE_INSTALL_PREFIX}")
set(CPACK_OUTPUT_FILE_PREFIX packages)

set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL runtime dev dropin)
set(CPACK_COMPONENTS_GROUPING IGNORE)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE ${AMUTEX_DEB_RELEASE})
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
# Stripped, as Debian ships libraries; a build tree has the debug info.
set(CPACK_STRIP_FILES ON)
# A shlibs file, so that packages built against libamutex0 depend on it.
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS_POLICY ">=")

set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME libamutex${AMUTEX_SOVERSION})
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SECTION libs)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_DEPENDS "${amutex_deb_runtime_depends}")
set(CPACK_DEBIAN_RUNTIME_DESCRIPTION
  "futex mutex with Go-style normal and starvation modes
amutex replaces pthread_mutex_t where a lock under load starts to hurt: a
waiter that has waited longer than a threshold (1 ms) switches the mutex to
direct FIFO handoff. It keeps per-lock wait-time histograms and exports them
for Prometheus.
.
This package holds the shared library.")

set(CPACK_DEBIAN_DEV_PACKAGE_NAME libamutex-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS "${amutex_deb_dev_depends}")
set(CPACK_DEBIAN_DEV_DESCRIPTION
  "futex mutex with Go-style normal and starvation modes (development files)
amutex replaces pthread_mutex_t where a lock under load starts to hurt.
.
This package holds the headers, the static library, the CMake and
pkg-config files and the manual pages (man amutex).")

set(CPACK_DEBIAN_DROPIN_PACKAGE_NAME libamutex-pthread${AMUTEX_SOVERSION})
set(CPACK_DEBIAN_DROPIN_PACKAGE_SECTION libs)
set(CPACK_DEBIAN_DROPIN_PACKAGE_DEPENDS "${amutex_deb_runtime_depends}")
set(CPACK_DEBIAN_DROPIN_DESCRIPTION
  "amutex under an unmodified program's pthread mutexes
libamutex-pthread.so defines pthread_mutex_* and pthread_cond_* on amutex,
for LD_PRELOAD or for linking ahead of libc, and reports at exit where the
program waited (AMUTEX_REPORT). It carries amutex itself and does not need
libamutex0.")

include(CPack)
