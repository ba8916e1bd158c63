#include "ast_spawn.h"
