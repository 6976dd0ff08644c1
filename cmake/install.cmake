# install.cmake — what `cmake --install` (and so `make install` and
# `make deb`) puts where, in three components that are also the Debian
# packages: runtime (liblanes.so.N), dev (header, liblanes.a, the .so link,
# lanes.pc, the CMake package) and tools (lanes-load, lanes-demo, lanes-lab).
include(CMakePackageConfigHelpers)
set(LANES_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/lanes)

install(TARGETS ${LANES_EXPORTED} EXPORT lanesTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT runtime NAMELINK_COMPONENT dev
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(FILES ${PROJECT_SOURCE_DIR}/include/lanes.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT dev)

# CMake package: lanes::lanes (liblanes.so) and lanes::lanes_static.
install(EXPORT lanesTargets NAMESPACE lanes:: DESTINATION ${LANES_CMAKE_DIR} COMPONENT dev)
string(JOIN " " LANES_APP_CFLAGS_TEXT ${LANES_APP_CFLAGS})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/lanesConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/lanesConfig.cmake INSTALL_DESTINATION ${LANES_CMAKE_DIR})
# 0.x: a new minor version may break the API, so only the same minor matches.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/lanesConfigVersion.cmake COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/lanesConfig.cmake ${PROJECT_BINARY_DIR}/lanesConfigVersion.cmake
        DESTINATION ${LANES_CMAKE_DIR} COMPONENT dev)

# lanes.pc, written at install time (it names the prefix).
pkg_check_modules(LANES_UV_STATIC QUIET libuv-static)
if(LANES_UV_STATIC_FOUND)
  set(LANES_PC_REQUIRES_PRIVATE "libuv-static sqlite3 hiredis nettle jansson zlib")
else()
  set(LANES_PC_REQUIRES_PRIVATE "libuv sqlite3 hiredis nettle jansson zlib")
endif()
# yajl: Debian's libyajl-dev ships its archive as libyajl_s.a, and yajl.pc
# names only -lyajl, which a -static link cannot satisfy; so lanes.pc names
# the archive that exists itself, in Libs.private, instead of requiring yajl.
find_library(LANES_YAJL_ARCHIVE NAMES libyajl.a libyajl_s.a HINTS ${LANES_YAJL_LIBRARY_DIRS})
if(LANES_YAJL_ARCHIVE MATCHES "libyajl_s\\.a$")
  set(LANES_PC_LIBS_PRIVATE "-lyajl_s")
else()
  set(LANES_PC_LIBS_PRIVATE "-lyajl")
endif()
string(JOIN " " LANES_PC_CFLAGS ${LANES_APP_CFLAGS})
set(LANES_GEN_WHAT pc)
configure_file(${PROJECT_SOURCE_DIR}/cmake/install-generated.cmake.in ${PROJECT_BINARY_DIR}/install-pc.cmake @ONLY)
install(SCRIPT ${PROJECT_BINARY_DIR}/install-pc.cmake COMPONENT dev)

if(TARGET lanes-load AND TARGET lanes-demo)
  install(TARGETS lanes-load lanes-demo RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT tools)
  # The lab itself is Python: its files and the FastAPI twin it compares
  # against go to share/lanes, where the installed launcher points.
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/tools/lab/ DESTINATION ${CMAKE_INSTALL_DATADIR}/lanes/tools/lab
          COMPONENT tools FILES_MATCHING PATTERN "*.py" PATTERN "__pycache__" EXCLUDE)
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/lab/fastapi/ DESTINATION ${CMAKE_INSTALL_DATADIR}/lanes/lab/fastapi
          COMPONENT tools FILES_MATCHING PATTERN "*.py" PATTERN "__pycache__" EXCLUDE)
  # The Go net/http peer that client-models (and the peer bench) compare against.
  install(FILES ${PROJECT_SOURCE_DIR}/bench/go/peer.go DESTINATION ${CMAKE_INSTALL_DATADIR}/lanes/bench/go
          COMPONENT tools)
  set(LANES_GEN_WHAT lab)
  configure_file(${PROJECT_SOURCE_DIR}/cmake/install-generated.cmake.in ${PROJECT_BINARY_DIR}/install-lab.cmake @ONLY)
  install(SCRIPT ${PROJECT_BINARY_DIR}/install-lab.cmake COMPONENT tools)
endif()

include(${PROJECT_SOURCE_DIR}/cmake/package.cmake)
