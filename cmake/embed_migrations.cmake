# embed_migrations(TARGET DIR FUNCTION): compiles migrations/DIR/NNNN_name.sql
# into TARGET as an ordered table returned by ecsimage::storage::FUNCTION().
# Call it from the CMakeLists.txt that declares TARGET: Makefile generators
# run a custom command only for targets of the directory that declares it.
# VERBATIM keeps the semicolons of the file list, so that it reaches
# write_migrations.cmake as one -DFILES list however many migrations exist.
function(embed_migrations target dir function)
  file(GLOB files CONFIGURE_DEPENDS
       ${CMAKE_SOURCE_DIR}/migrations/${dir}/[0-9][0-9][0-9][0-9]_*.sql)
  list(SORT files)
  set(out ${CMAKE_BINARY_DIR}/gen/${dir}_migrations.cc)
  add_custom_command(
    OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -DOUT=${out} "-DFILES=${files}"
            -DFUNCTION=${function} -DDIR=${dir}
            -P ${CMAKE_SOURCE_DIR}/cmake/write_migrations.cmake
    DEPENDS ${files} ${CMAKE_SOURCE_DIR}/cmake/write_migrations.cmake
    COMMENT "embedding migrations/${dir}"
    VERBATIM)
  target_sources(${target} PRIVATE ${out})
endfunction()
