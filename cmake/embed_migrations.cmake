# Embeds migrations/NNNN_name.sql into the binary as an ordered table.
file(GLOB ECSIMAGE_MIGRATIONS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/migrations/[0-9][0-9][0-9][0-9]_*.sql)
list(SORT ECSIMAGE_MIGRATIONS)
set(ECSIMAGE_MIGRATIONS_CC ${CMAKE_BINARY_DIR}/gen/embedded_migrations.cc)
add_custom_command(
  OUTPUT ${ECSIMAGE_MIGRATIONS_CC}
  COMMAND ${CMAKE_COMMAND} -DOUT=${ECSIMAGE_MIGRATIONS_CC}
          "-DFILES=${ECSIMAGE_MIGRATIONS}"
          -P ${CMAKE_SOURCE_DIR}/cmake/write_migrations.cmake
  DEPENDS ${ECSIMAGE_MIGRATIONS} ${CMAKE_SOURCE_DIR}/cmake/write_migrations.cmake
  COMMENT "embedding migrations")
