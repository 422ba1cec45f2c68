#include "npz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned long le(const unsigned char *p, int n) {
    unsigned long v = 0;
    while (n-- > 0) v = (v << 8) | p[n];
    return v;
}

/* Parse one .npy member: its header dict, then point at its data. */
static int parse_npy(const unsigned char *p, long size, npy_array *a) {
    long header_len, offset;
    const char *descr, *shape;
    char header[1024];
    if (size < 10 || memcmp(p, "\x93NUMPY", 6) != 0) return -1;
    header_len = p[6] == 1 ? (long)le(p + 8, 2) : (long)le(p + 8, 4);
    offset = (p[6] == 1 ? 10 : 12) + header_len;
    if (header_len >= (long)sizeof header || offset > size) return -1;
    memcpy(header, p + (offset - header_len), (size_t)header_len);
    header[header_len] = '\0';
    descr = strstr(header, "'descr': '");
    shape = strstr(header, "'shape': (");
    if (!descr || !shape || !strstr(header, "'fortran_order': False")) return -1;
    descr += 10;
    if (descr[0] != '<' || (descr[1] != 'f' && descr[1] != 'i')) return -1;
    a->type = descr[1];
    a->itemsize = descr[2] - '0';
    if (a->itemsize != 4 && a->itemsize != 8) return -1;
    a->ndim = 0;
    a->count = 1;
    for (shape += 10; *shape != ')';) {
        char *end;
        long n = strtol(shape, &end, 10);
        if (end == shape || a->ndim == NPZ_MAX_DIMS) return -1;
        a->shape[a->ndim++] = n;
        a->count *= n;
        for (shape = end; *shape == ',' || *shape == ' ';) shape++;
    }
    if (offset + a->count * a->itemsize > size) return -1;
    a->raw = p + offset;
    return 0;
}

int npz_load(const char *path, npz_file *npz, char *error, size_t error_size) {
    FILE *f = fopen(path, "rb");
    long pos = 0;
    memset(npz, 0, sizeof *npz);
    if (!f) {
        snprintf(error, error_size, "cannot open %s", path);
        return -1;
    }
    fseek(f, 0, SEEK_END);
    npz->size = ftell(f);
    fseek(f, 0, SEEK_SET);
    npz->bytes = malloc((size_t)npz->size + 1);
    if (!npz->bytes || fread(npz->bytes, 1, (size_t)npz->size, f) != (size_t)npz->size) {
        fclose(f);
        npz_free(npz);
        snprintf(error, error_size, "cannot read %s", path);
        return -1;
    }
    fclose(f);
    /* local file header: signature, version, flags, method, time, date, crc, sizes, lengths */
    while (pos + 30 <= npz->size && le(npz->bytes + pos, 4) == 0x04034b50UL) {
        const unsigned char *h = npz->bytes + pos;
        long name_len = (long)le(h + 26, 2), extra_len = (long)le(h + 28, 2);
        long data_size = (long)le(h + 18, 4), data = pos + 30 + name_len + extra_len;
        npy_array *a = &npz->arrays[npz->count];
        if (le(h + 8, 2) != 0 || (le(h + 6, 2) & 8) || data + data_size > npz->size ||
            name_len < 5 || name_len - 4 >= (long)sizeof a->name || npz->count == NPZ_MAX_ARRAYS) {
            snprintf(error, error_size, "%s: member %d is compressed or malformed", path,
                     npz->count);
            npz_free(npz);
            return -1;
        }
        memcpy(a->name, h + 30, (size_t)(name_len - 4)); /* drop ".npy" */
        if (parse_npy(npz->bytes + data, data_size, a) != 0) {
            snprintf(error, error_size, "%s: %s.npy is not a C-order little-endian array", path,
                     a->name);
            npz_free(npz);
            return -1;
        }
        npz->count++;
        pos = data + data_size;
    }
    if (npz->count == 0) {
        snprintf(error, error_size, "%s: not a zip of .npy files", path);
        npz_free(npz);
        return -1;
    }
    return 0;
}

const npy_array *npz_get(const npz_file *npz, const char *name) {
    int i;
    for (i = 0; i < npz->count; i++)
        if (strcmp(npz->arrays[i].name, name) == 0) return &npz->arrays[i];
    return NULL;
}

void *npy_copy(const npy_array *a) {
    void *out;
    if (!a) return NULL;
    out = malloc((size_t)(a->count * a->itemsize) + 1);
    if (out) memcpy(out, a->raw, (size_t)(a->count * a->itemsize));
    return out;
}

void npz_free(npz_file *npz) {
    free(npz->bytes);
    npz->bytes = NULL;
}
