/*
 * graph_build.h - building small graphs by hand in the nn tests: a tensor
 * of a given shape and type (optionally with constant data) in a graph
 * under construction. Shared by the operator tests so each builds the
 * node it checks, not the plumbing.
 */
#ifndef FA_TESTS_NN_GRAPH_BUILD_H
#define FA_TESTS_NN_GRAPH_BUILD_H

#include <stdlib.h>
#include <string.h>

#include "nn/nn_internal.h"
#include "testutil.h"

/* One-node graph under construction: input "x", constants, the node. */
typedef struct one {
    fa_nn_graph *g;
    int node;
} one;

/* The tensor called name in g (created), of dims[rank] and type dt, with a
 * copy of data when given. Returns its id. */
static inline int tensor(fa_nn_graph *g, const char *name, const int64_t *dims, int rank, fa_nn_dtype dt,
                         const void *data) {
    int id = fa_nn_graph_tensor_id(g, name, strlen(name), 1);
    assert_true(id >= 0);
    fa_nn_tensor *t = (fa_nn_tensor *)fa_nn_graph_tensor(g, id);
    t->rank = rank;
    t->dtype = dt;
    size_t n = 1;
    for (int i = 0; i < rank; i++)
        t->shape[i] = dims[i], n *= (size_t)dims[i];
    if (data) {
        t->data = malloc(n * fa_nn_dtype_size(dt) + 1);
        memcpy(t->data, data, n * fa_nn_dtype_size(dt));
    }
    return id;
}

#endif
