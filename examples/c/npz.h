/* A reader for the exported .npz files: a zip of stored (uncompressed) .npy arrays. No zlib.
 *
 * The export writes each member with its sizes in the local file header (no data descriptor, no
 * zip64), so the archive is read by walking the local headers from the start of the file. Each
 * .npy is version 1.0 or 2.0, C order, little-endian <f8, <f4 or <i8.
 */
#ifndef NPZ_H
#define NPZ_H

#include <stddef.h>

#define NPZ_MAX_ARRAYS 128
#define NPZ_MAX_DIMS 8

typedef struct {
    char name[64];            /* the member's name without ".npy" */
    char type;                /* 'f' (float) or 'i' (integer) */
    int itemsize;             /* 8 or 4 */
    int ndim;
    long shape[NPZ_MAX_DIMS];
    long count;               /* the number of elements */
    const unsigned char *raw; /* count * itemsize bytes inside the file's buffer (unaligned) */
} npy_array;

typedef struct {
    unsigned char *bytes;
    long size;
    int count;
    npy_array arrays[NPZ_MAX_ARRAYS];
} npz_file;

/* Read `path`; 0 on success, otherwise -1 with a message in `error`. */
int npz_load(const char *path, npz_file *npz, char *error, size_t error_size);
/* The array called `name`, or NULL. */
const npy_array *npz_get(const npz_file *npz, const char *name);
/* The array's values in a new, aligned buffer of its own dtype (free() it); NULL if none. */
void *npy_copy(const npy_array *a);
void npz_free(npz_file *npz);

#endif
