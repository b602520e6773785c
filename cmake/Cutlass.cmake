# Locate the pinned CUTLASS headers, in this order:
#   1. -DCUTLASS_DIR=<checkout>            (a CUTLASS source tree: include/ and tools/util/include/)
#   2. the PyPI package nvidia-cutlass     (a build requirement; headers under cutlass_library/source)
#   3. FetchContent of the pinned git tag  (needs a git host; not reachable in every CI)
# Provides the INTERFACE target mixgemm_cutlass.
set(MIXGEMM_CUTLASS_VERSION "4.2.0" CACHE STRING "CUTLASS release mixgemm is built and tested against")
set(CUTLASS_DIR "" CACHE PATH "CUTLASS source tree to use instead of the nvidia-cutlass wheel")

set(_cutlass_root "")
set(_cutlass_origin "")
if(CUTLASS_DIR)
  set(_cutlass_root "${CUTLASS_DIR}")
  set(_cutlass_origin "CUTLASS_DIR")
else()
  # find_spec does not import the package (its __init__ pulls in optional dependencies).
  execute_process(
    COMMAND "${Python_EXECUTABLE}" -c
      "import importlib.util as u, os; s = u.find_spec('cutlass_library'); print(os.path.join(s.submodule_search_locations[0], 'source') if s else '')"
    OUTPUT_VARIABLE _wheel_root OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE _rc)
  if(_rc EQUAL 0 AND _wheel_root AND EXISTS "${_wheel_root}/include/cutlass/version.h")
    set(_cutlass_root "${_wheel_root}")
    set(_cutlass_origin "PyPI nvidia-cutlass wheel")
  endif()
endif()

if(NOT _cutlass_root)
  include(FetchContent)
  FetchContent_Declare(cutlass
    GIT_REPOSITORY https://github.com/NVIDIA/cutlass.git
    GIT_TAG "v${MIXGEMM_CUTLASS_VERSION}"
    GIT_SHALLOW TRUE)
  FetchContent_Populate(cutlass)
  set(_cutlass_root "${cutlass_SOURCE_DIR}")
  set(_cutlass_origin "FetchContent v${MIXGEMM_CUTLASS_VERSION}")
endif()

file(STRINGS "${_cutlass_root}/include/cutlass/version.h" _ver REGEX "#define CUTLASS_(MAJOR|MINOR|PATCH) ")
string(REGEX REPLACE ".*CUTLASS_MAJOR ([0-9]+).*CUTLASS_MINOR ([0-9]+).*CUTLASS_PATCH ([0-9]+).*" "\\1.\\2.\\3"
       MIXGEMM_FOUND_CUTLASS_VERSION "${_ver}")
message(STATUS "mixgemm: CUTLASS ${MIXGEMM_FOUND_CUTLASS_VERSION} from ${_cutlass_origin}: ${_cutlass_root}")
if(NOT MIXGEMM_FOUND_CUTLASS_VERSION VERSION_EQUAL MIXGEMM_CUTLASS_VERSION)
  message(WARNING "mixgemm is pinned to CUTLASS ${MIXGEMM_CUTLASS_VERSION}; "
                  "found ${MIXGEMM_FOUND_CUTLASS_VERSION}. Results are only validated on the pinned version.")
endif()

# The wheel's headers live in a per-build temporary environment when pip builds in isolation. Copy
# them to a fixed place under the source tree's build/ folder so compile lines (and ccache keys,
# with CCACHE_BASEDIR at the checkout) are identical from one build to the next.
if(_cutlass_origin STREQUAL "PyPI nvidia-cutlass wheel")
  set(_stable "${PROJECT_SOURCE_DIR}/build/_cutlass/${MIXGEMM_FOUND_CUTLASS_VERSION}")
  if(NOT EXISTS "${_stable}/include/cutlass/version.h" OR NOT EXISTS "${_stable}/tools/util/include/cutlass/util")
    file(REMOVE_RECURSE "${_stable}")
    file(COPY "${_cutlass_root}/include" DESTINATION "${_stable}")
    file(COPY "${_cutlass_root}/tools/util/include" DESTINATION "${_stable}/tools/util")
  endif()
  set(_cutlass_root "${_stable}")
endif()

add_library(mixgemm_cutlass INTERFACE)
target_include_directories(mixgemm_cutlass SYSTEM INTERFACE
  "${_cutlass_root}/include" "${_cutlass_root}/tools/util/include")
target_compile_definitions(mixgemm_cutlass INTERFACE
  MIXGEMM_CUTLASS_VERSION_STRING="${MIXGEMM_FOUND_CUTLASS_VERSION}")
