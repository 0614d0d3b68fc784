/**
 * @file schedtest/guest_image.h
 * @brief The initramfs a test VM boots: agent, scenario and host files.
 *
 * The binding fills a st_scenario (include/schedtest/scenario.h) and names
 * the host files; this module decides where each lands in the guest and
 * writes the image:
 *
 *   /init                          the static guest agent
 *   /dev/console                   character device 5:1
 *   /lib/modules/<name>            the kernel's modules (modules.order
 *                                  in <kernel dir>/modules), loaded at boot
 *   /schedtest/sched/<basename>    the scheduler, with its shared libraries
 *   /schedtest/payload/<i>/<base>  payload i (0-based), with its libraries
 *   <guest path>                   each extra file
 *   ST_SCN_GUEST_PATH              the scenario text (st_scenario_write)
 *
 * Errors: ST_EINVAL (a scenario that fails st_scenario_check, a host path
 * too long for the scenario's buffers), ST_ERANGE (more modules than the
 * scenario holds), and those of initramfs.h.
 */
#ifndef SCHEDTEST_GUEST_IMAGE_H
#define SCHEDTEST_GUEST_IMAGE_H

#include "schedtest/scenario.h"

typedef struct {
    const char *agent;     /* host path of the static agent */
    const char *kernel;    /* host path of the kernel; NULL: no modules */
    const char *scheduler; /* host path of the scheduler; NULL: none */
    const char *payloads[ST_SCN_MAX_PAYLOADS]; /* host paths, in scenario
                                                   order */
    const char *const *files; /* guest, host, guest, host, ..., NULL */
} st_guest_image;

/**
 * Fill the guest paths of `s` from `img`: s->scheduler (when
 * img->scheduler), each payload's path, and s->modules from the kernel's
 * modules.order (when img->kernel).  Needs no file but modules.order.
 */
int st_guest_image_place(st_scenario *s, const st_guest_image *img);

/** Write the image of `s` (placed) and `img` to `out_path` (cpio). */
int st_guest_image_write(const st_scenario *s, const st_guest_image *img,
                         const char *out_path);

#endif
