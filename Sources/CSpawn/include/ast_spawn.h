#ifndef AST_SPAWN_H
#define AST_SPAWN_H
/* Placeholder header: the spawn helper is being written in ast_spawn.c. */
#endif
