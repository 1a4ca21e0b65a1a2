/*
 * LD_PRELOAD helper for tests/pam.rs: reports every block handed to free()
 * (or moved by realloc(), which is done here as malloc + copy + free so that
 * the old block is seen too) that still holds one of the needles, i.e. a
 * secret left behind in freed memory.
 *
 * WPAM_FREESCAN_NEEDLES: a file of needles, one per line (read at load time
 *   with read(2): no allocation, and the needles never sit in the environment).
 * WPAM_FREESCAN_OUT: a file that gets "hit <line> <size>" per finding and,
 *   at exit, "scanned <count>" (so a test can tell the scanner ran).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern void *__libc_malloc(size_t);
extern void __libc_free(void *);

#define MAX_NEEDLES 8
static char storage[4096];
static const char *needle[MAX_NEEDLES];
static size_t needle_len[MAX_NEEDLES];
static int needles;
static int out = -1;
static unsigned long scanned;
static int busy;

static void say(const char *line) {
    if (out >= 0) {
        ssize_t r = write(out, line, strlen(line));
        (void)r;
    }
}

__attribute__((constructor)) static void start(void) {
    const char *path = getenv("WPAM_FREESCAN_NEEDLES");
    const char *outp = getenv("WPAM_FREESCAN_OUT");
    if (!path || !outp)
        return;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    ssize_t n = read(fd, storage, sizeof storage - 1);
    close(fd);
    if (n <= 0)
        return;
    storage[n] = 0;
    char *p = storage;
    while (*p && needles < MAX_NEEDLES) {
        char *nl = strchr(p, '\n');
        if (nl)
            *nl = 0;
        if (*p) {
            needle[needles] = p;
            needle_len[needles] = strlen(p);
            needles++;
        }
        if (!nl)
            break;
        p = nl + 1;
    }
    out = open(outp, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
}

__attribute__((destructor)) static void stop(void) {
    char line[64];
    snprintf(line, sizeof line, "scanned %lu\n", scanned);
    say(line);
}

static void scan(void *p) {
    if (!p || !needles || busy)
        return;
    busy = 1;
    size_t size = malloc_usable_size(p);
    scanned++;
    for (int i = 0; i < needles; i++) {
        if (memmem(p, size, needle[i], needle_len[i])) {
            char line[64];
            snprintf(line, sizeof line, "hit %d %zu\n", i + 1, size);
            say(line);
        }
    }
    busy = 0;
}

void free(void *p) {
    scan(p);
    __libc_free(p);
}

void *realloc(void *p, size_t size) {
    if (!p)
        return __libc_malloc(size);
    if (size == 0) {
        free(p);
        return NULL;
    }
    void *q = __libc_malloc(size);
    if (!q)
        return NULL;
    size_t old = malloc_usable_size(p);
    memcpy(q, p, old < size ? old : size);
    free(p);
    return q;
}
