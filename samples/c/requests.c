/*
 * Answers serve-protocol requests through libpixelllm, in process:
 *   requests MODEL_DIR [OPTIONS_JSON] < requests.jsonl     one request per line on stdin, one answer line each on stdout
 * Build: cc -std=c11 samples/c/requests.c -IDIR -LDIR -lpixelllm -Wl,-rpath,DIR -o requests   (DIR: the published library)
 */
#define _POSIX_C_SOURCE 200809L /* getline */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pixelllm.h"

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: %s MODEL_DIR [OPTIONS_JSON] < requests.jsonl\n", argv[0]);
        return 2;
    }
    char *error = NULL;
    pixelllm_model *model = pixelllm_open(argv[1], argc == 3 ? argv[2] : NULL, &error);
    if (model == NULL) {
        fprintf(stderr, "error: %s\n", error != NULL ? error : "out of memory");
        pixelllm_free(error);
        return 2;
    }
    fprintf(stderr, "%s: %s loaded\n", pixelllm_version(), argv[1]);

    int failed = 0;
    char *line = NULL;
    size_t capacity = 0;
    ssize_t length;
    while ((length = getline(&line, &capacity, stdin)) != -1) {
        if (length > 0 && line[length - 1] == '\n') line[--length] = '\0';
        if (length == 0) continue;
        char *answer = pixelllm_request(model, line);
        if (answer == NULL) {
            fprintf(stderr, "error: out of memory\n");
            failed = 1;
            break;
        }
        puts(answer);
        if (strstr(answer, "\"ok\":false") != NULL) failed = 1;
        pixelllm_free(answer);
    }
    free(line);
    pixelllm_close(model);
    return failed;
}
