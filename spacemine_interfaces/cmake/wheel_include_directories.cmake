# The ROS 2 interface packages installed from PyPI wheels export CMake targets whose
# include directories name the Python and NumPy of the machine that built the wheels
# (/opt/python/...). Generating against them fails at CMake's generate step, so every
# imported target's include directory that does not exist here and is a Python or NumPy
# one is replaced by this Python's. On a ROS 2 install from packages every directory
# exists and nothing changes.
function(spacemine_use_local_python_includes)
  find_package(Python3 REQUIRED COMPONENTS Interpreter Development NumPy)
  get_property(imported DIRECTORY PROPERTY IMPORTED_TARGETS)
  foreach(target IN LISTS imported)
    get_target_property(directories ${target} INTERFACE_INCLUDE_DIRECTORIES)
    if(NOT directories)
      continue()
    endif()
    set(local_directories)
    set(changed FALSE)
    foreach(directory IN LISTS directories)
      if(directory MATCHES "^\\$<" OR EXISTS "${directory}")
        list(APPEND local_directories "${directory}")
      elseif(directory MATCHES "numpy")
        list(APPEND local_directories ${Python3_NumPy_INCLUDE_DIRS})
        set(changed TRUE)
      elseif(directory MATCHES "/include/python3")
        list(APPEND local_directories ${Python3_INCLUDE_DIRS})
        set(changed TRUE)
      else()
        list(APPEND local_directories "${directory}")
      endif()
    endforeach()
    if(changed)
      list(REMOVE_DUPLICATES local_directories)
      set_target_properties(${target} PROPERTIES
        INTERFACE_INCLUDE_DIRECTORIES "${local_directories}")
    endif()
  endforeach()
endfunction()
