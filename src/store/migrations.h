/* migrations.h - the numbered SQL migrations compiled into the binary
 * (generated from src/store/schema/NNNN_*.sql by scripts/embed_migrations.cmake). */
#ifndef FA_STORE_MIGRATIONS_H
#define FA_STORE_MIGRATIONS_H
#include <stddef.h>
typedef struct fa_migration {
    int version;
    const char *name;
    const char *sql;
} fa_migration;
extern const fa_migration fa_migrations[];
extern const size_t fa_migrations_count;
#endif
