/* check DIR: run the C RNN on every exported case it implements and compare.
 *
 * Reads DIR/index.txt (file kind nonlinearity dtype tolerance, one case a line), runs the
 * `step`, `sequence` and `stateful` cases (one layer, one direction; tanh and relu; float64 in
 * double, float32 in float) and skips `rnn` (torch's multi-layer layout: not implemented here)
 * and the LSTM's and the GRU's kinds (`lstm-step` ... `gru`: other cells).
 * A case passes when, for every expected array, max|actual - expected| / max|expected| is at most
 * its tolerance. Exit status: 0 when every case passed, 1 when one failed, 2 when the export
 * cannot be read.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "npz.h"
#include "rnn.h"

#define REAL double
#define NAME(f) f##_d
#include "check_impl.h"
#undef REAL
#undef NAME

#define REAL float
#define NAME(f) f##_f
#include "check_impl.h"

int main(int argc, char **argv) {
    char line[512], path[1024], file[256], kind[32], nonlinearity[16], dtype[16], why[256];
    double tolerance, worst[2] = {0, 0};
    int passed[2] = {0, 0}, failed = 0, skipped = 0, gated = 0, endian = 1;
    FILE *index;
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR (a folder written by python -m reference_rnn export)\n",
                argv[0]);
        return 2;
    }
    if (*(char *)&endian != 1) {
        fprintf(stderr, "this example reads little-endian files on little-endian machines only\n");
        return 2;
    }
    snprintf(path, sizeof path, "%s/index.txt", argv[1]);
    if (!(index = fopen(path, "r"))) {
        fprintf(stderr, "cannot open %s\n", path);
        return 2;
    }
    while (fgets(line, sizeof line, index)) {
        npz_file npz;
        int f32, relu;
        double err;
        if (line[0] == '#') continue;
        if (sscanf(line, "%255s %31s %15s %15s %lf", file, kind, nonlinearity, dtype,
                   &tolerance) != 5) {
            fprintf(stderr, "%s: cannot read the line: %s", path, line);
            return 2;
        }
        if (strcmp(kind, "rnn") == 0) {
            skipped++;
            continue;
        }
        /* the LSTM's and the GRU's kinds (lstm-step, ..., gru): other cells than this one */
        if (strcmp(kind, "step") && strcmp(kind, "sequence") && strcmp(kind, "stateful")) {
            gated++;
            continue;
        }
        snprintf(path, sizeof path, "%s/%s", argv[1], file);
        if (npz_load(path, &npz, why, sizeof why) != 0) {
            fprintf(stderr, "%s\n", why);
            return 2;
        }
        f32 = strcmp(dtype, "float32") == 0;
        relu = strcmp(nonlinearity, "relu") == 0;
        err = f32 ? run_case_f(&npz, kind, relu, why) : run_case_d(&npz, kind, relu, why);
        npz_free(&npz);
        if (err < 0) {
            fprintf(stderr, "%s: %s\n", file, why);
            return 2;
        }
        printf("%-4s %-44s error %.1e (%s), tolerance %g\n", err <= tolerance ? "ok" : "FAIL",
               file, err, why, tolerance);
        if (err > tolerance) failed++;
        else passed[f32]++;
        worst[f32] = err > worst[f32] ? err : worst[f32];
    }
    fclose(index);
    printf("float64: %d passed, worst error %.1e; float32: %d passed, worst error %.1e\n",
           passed[0], worst[0], passed[1], worst[1]);
    printf("%d failed; %d rnn cases skipped (multi-layer torch layout, not implemented here); "
           "%d lstm and gru cases skipped (other cells)\n",
           failed, skipped, gated);
    return failed ? 1 : 0;
}
