# Every dependency comes from Debian 12's packages (see README.md).
find_package(Threads REQUIRED)
find_package(Protobuf REQUIRED)
find_package(gRPC CONFIG REQUIRED)
find_package(absl CONFIG REQUIRED)
find_package(RocksDB CONFIG REQUIRED)
# libsimdjson-dev (3.0.1) ships a CMake package: target simdjson::simdjson.
find_package(simdjson CONFIG REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(RDKAFKA REQUIRED IMPORTED_TARGET rdkafka)
pkg_check_modules(ICU REQUIRED IMPORTED_TARGET icu-uc icu-i18n)
# jemalloc: 11-18% more events per CPU-second than glibc's malloc
# (BENCHMARKS.md, session 6). Sanitizers bring their own allocator.
if(EW_JEMALLOC AND NOT EW_SANITIZE)
  pkg_check_modules(JEMALLOC IMPORTED_TARGET jemalloc)
  if(NOT JEMALLOC_FOUND)
    message(FATAL_ERROR "jemalloc not found: apt-get install libjemalloc-dev "
                        "(or configure with -DEW_JEMALLOC=OFF for glibc's malloc)")
  endif()
endif()
if(EW_BUILD_TESTS)
  find_package(GTest CONFIG REQUIRED)
endif()
if(EW_BUILD_BENCH)
  find_package(benchmark CONFIG REQUIRED)
endif()
