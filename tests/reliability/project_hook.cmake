# Adds tests/reliability to a build whose tests/CMakeLists.txt does not (yet)
# list it:  cmake -DCMAKE_PROJECT_INCLUDE=<repo>/tests/reliability/project_hook.cmake
# The sanitizer and fuzz builds of scripts/*.sh use it; harmless once
# tests/CMakeLists.txt has add_subdirectory(reliability).
function(ecsimage_add_reliability_tests)
  if(ECSIMAGE_BUILD_TESTS AND NOT TARGET reliability_test)
    # Deferred calls may not add_subdirectory; the list file is written to
    # be included from here as well.
    include(${CMAKE_SOURCE_DIR}/tests/reliability/CMakeLists.txt)
  endif()
endfunction()
if(PROJECT_NAME STREQUAL "ecsimage")
  cmake_language(DEFER DIRECTORY ${CMAKE_SOURCE_DIR}
                 CALL ecsimage_add_reliability_tests)
endif()
