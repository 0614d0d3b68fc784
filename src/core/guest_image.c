/*
 * guest_image.c: the initramfs of a test VM (include/schedtest/
 * guest_image.h).  It owns the guest layout, so the binding only names
 * host files and the agent only reads the scenario's paths.
 */
#include "schedtest/guest_image.h"

#include "schedtest/error.h"
#include "schedtest/initramfs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *base_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* `n` (what snprintf returned) fits `size`, or ST_EINVAL naming `what`. */
static int fitted(int n, size_t size, const char *what, const char *name)
{
    if (n < 0 || (size_t)n >= size)
        return st_error_set(ST_EINVAL, "%s: guest path for '%s' is longer "
                            "than %zu bytes", what, name, size - 1);
    return 0;
}

/* The kernel's modules directory: <dir of kernel>/modules. */
static void modules_dir(char *out, size_t size, const char *kernel)
{
    snprintf(out, size, "%s", kernel);
    char *slash = strrchr(out, '/');
    if (slash)
        *slash = '\0';
    else
        snprintf(out, size, ".");
    size_t n = strlen(out);
    snprintf(out + n, size - n, "/modules");
}

/* s->modules from <kernel dir>/modules/modules.order (none: no file). */
static int place_modules(st_scenario *s, const char *kernel)
{
    char dir[4096], order[4200];
    modules_dir(dir, sizeof dir, kernel);
    snprintf(order, sizeof order, "%s/modules.order", dir);
    s->nmodules = 0;
    FILE *f = fopen(order, "r");
    if (!f)
        return 0;
    char name[256];
    int rc = 0;
    while (rc == 0 && fscanf(f, "%255s", name) == 1) {
        if (s->nmodules == ST_SCN_MAX_MODULES) {
            rc = st_error_set(ST_ERANGE, "%s: more than %d modules; the "
                              "scenario holds at most %d", order,
                              ST_SCN_MAX_MODULES, ST_SCN_MAX_MODULES);
            break;
        }
        rc = fitted(snprintf(s->modules[s->nmodules++], ST_SCN_PATH_MAX,
                             "/lib/modules/%s", name), ST_SCN_PATH_MAX,
                    "modules", name);
    }
    fclose(f);
    return rc;
}

int st_guest_image_place(st_scenario *s, const st_guest_image *img)
{
    int rc = 0;
    if (img->scheduler)
        rc = fitted(snprintf(s->scheduler, sizeof s->scheduler,
                             "/schedtest/sched/%s", base_of(img->scheduler)),
                    sizeof s->scheduler, "scheduler", img->scheduler);
    for (int i = 0; rc == 0 && i < s->npayloads; i++)
        if (img->payloads[i])
            rc = fitted(snprintf(s->payloads[i].path, ST_SCN_PATH_MAX,
                                 "/schedtest/payload/%d/%s", i,
                                 base_of(img->payloads[i])),
                        ST_SCN_PATH_MAX, "payloads", img->payloads[i]);
    if (rc == 0 && img->kernel)
        rc = place_modules(s, img->kernel);
    return rc;
}

/* The host files: agent, modules, scheduler, payloads, extra files. */
static int add_files(st_initramfs *ir, const st_scenario *s,
                     const st_guest_image *img)
{
    int rc = st_initramfs_add_chardev(ir, "/dev/console", 0600, 5, 1);
    if (rc == 0)
        rc = st_initramfs_add_file(ir, "/init", img->agent, 0755);
    char dir[4096];
    if (img->kernel)
        modules_dir(dir, sizeof dir, img->kernel);
    for (int i = 0; rc == 0 && img->kernel && i < s->nmodules; i++) {
        char host[4400];
        snprintf(host, sizeof host, "%s/%s", dir,
                 s->modules[i] + strlen("/lib/modules/"));
        rc = st_initramfs_add_file(ir, s->modules[i], host, 0644);
    }
    if (rc == 0 && img->scheduler)
        rc = st_initramfs_add_binary_with_libs(ir, s->scheduler,
                                               img->scheduler, 0755);
    for (int i = 0; rc == 0 && i < s->npayloads; i++)
        if (img->payloads[i])
            rc = st_initramfs_add_binary_with_libs(ir, s->payloads[i].path,
                                                   img->payloads[i], 0755);
    for (int i = 0; rc == 0 && img->files && img->files[i]; i += 2)
        rc = st_initramfs_add_file(ir, img->files[i], img->files[i + 1], 0);
    return rc;
}

int st_guest_image_write(const st_scenario *s, const st_guest_image *img,
                         const char *out_path)
{
    char err[512], *text = NULL;
    size_t len = 0;
    if (st_scenario_write(s, &text, &len, err, sizeof err) < 0)
        return st_error_set(ST_EINVAL, "scenario: %s", err);
    st_initramfs *ir = NULL;
    int rc = st_initramfs_new(&ir);
    if (rc == 0)
        rc = add_files(ir, s, img);
    if (rc == 0)
        rc = st_initramfs_add_bytes(ir, ST_SCN_GUEST_PATH, text, len, 0644);
    if (rc == 0)
        rc = st_initramfs_write(ir, out_path, 0);
    st_initramfs_free(ir);
    free(text);
    return rc;
}
