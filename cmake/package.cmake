# package.cmake — Debian packages made by CPack from the install components
# (`make deb`; the build for it is configured with CMAKE_INSTALL_PREFIX=/usr):
#   liblanes<soversion>  runtime: liblanes.so.N, what a built app needs
#   liblanes-dev         build apps: lanes.h, liblanes.a, lanes.pc, lanesConfig.cmake
#   lanes-tools          lanes-load, lanes-demo and the lab (lanes-lab)
# Shared-library dependencies come from dpkg-shlibdeps; the rest are named.
# Each package's description: its first line is the synopsis (CPack indents
# the rest), so CPACK_PACKAGE_DESCRIPTION_SUMMARY stays unset.
set(CPACK_PACKAGE_NAME lanes)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "the lanes authors")
set(CPACK_RESOURCE_FILE_LICENSE ${PROJECT_SOURCE_DIR}/LICENSE)
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
set(CPACK_STRIP_FILES ON)
set(CPACK_COMPONENTS_ALL runtime dev tools)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "the lanes authors")
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)

set(LANES_DEB_RUNTIME liblanes${LANES_SOVERSION})
set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME ${LANES_DEB_RUNTIME})
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SECTION libs)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)   # the runtime package: the only one with a soname
set(CPACK_DEBIAN_RUNTIME_DESCRIPTION "lanes: C HTTP/1.1 server framework (shared library)
liblanes runs HTTP/1.1 apps whose every route names the lane it runs in: the
event loop (as a coroutine), a thread pool, helper processes or a job queue.
This package has the shared library apps built against lanes run with.")

set(CPACK_DEBIAN_DEV_PACKAGE_NAME liblanes-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS
    "${LANES_DEB_RUNTIME} (= ${PROJECT_VERSION}-1), libuv1-dev, libsqlite3-dev, libhiredis-dev, nettle-dev, libjansson-dev, libyajl-dev, zlib1g-dev")
set(CPACK_DEBIAN_DEV_PACKAGE_RECOMMENDS "pkg-config")
set(CPACK_DEBIAN_DEV_PACKAGE_SUGGESTS "cmake, zlib1g-dev")
set(CPACK_DEBIAN_DEV_DESCRIPTION "lanes: C HTTP/1.1 server framework (development files)
The header lanes.h, the static library, lanes.pc for pkg-config and the
CMake package (find_package(lanes), target lanes::lanes). llhttp is built
into the library. zlib1g-dev is needed only for a fully static (-static) link.")

set(CPACK_DEBIAN_TOOLS_PACKAGE_NAME lanes-tools)
set(CPACK_DEBIAN_TOOLS_PACKAGE_SECTION net)
set(CPACK_DEBIAN_TOOLS_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_TOOLS_PACKAGE_DEPENDS "python3")
set(CPACK_DEBIAN_TOOLS_PACKAGE_SUGGESTS "python3-fastapi, python3-uvicorn, python3-uvloop, python3-httptools, gunicorn")
set(CPACK_DEBIAN_TOOLS_DESCRIPTION "lanes: load generator, demo app and concurrency lab
lanes-load is an HTTP load generator with a blocking probe and a resource
sampler; lanes-demo serves the seed experiments' endpoints; lanes-lab runs
every experiment against lanes-demo and, when python3-fastapi, uvicorn and
gunicorn are installed, against the same endpoints in FastAPI.")

# Debian wants each package's licence in /usr/share/doc/<package>/copyright.
if(LANES_DEB_DOCS)
  foreach(comp runtime dev tools)
    string(TOUPPER ${comp} COMP)
    install(FILES ${PROJECT_SOURCE_DIR}/LICENSE DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/${CPACK_DEBIAN_${COMP}_PACKAGE_NAME}
            RENAME copyright COMPONENT ${comp})
  endforeach()
endif()

include(CPack)
