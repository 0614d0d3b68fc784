/*
 * frame.h: the results-channel framing shared by the guest agent and the
 * host launcher (header-only so both sides use the very same code).
 *
 * The guest writes a stream of records on the virtio-serial port:
 *
 *     @R <seq> <len> <crc32 hex>\n<len bytes of payload>\n
 *     ...
 *     @T <count> <crc32 hex of every payload, in order>\n
 *
 * A payload is text, one "key value" per line, the first line
 * "type <kind>".  The trailer makes truncation visible: a stream without
 * it, with a gap in <seq>, or a record whose checksum does not match was
 * cut short or damaged, and the host reports "truncated".
 */
#ifndef SCHEDTEST_GUEST_FRAME_H
#define SCHEDTEST_GUEST_FRAME_H

#include <stddef.h>
#include <stdint.h>

/* isa-debug-exit codes: qemu exits with 2*code+1 (33, 35, 37). */
#define ST_FRAME_EXIT_PASS 0x10
#define ST_FRAME_EXIT_FAIL 0x11
#define ST_FRAME_EXIT_ERROR 0x12

/* Name of the virtserialport carrying results. */
#define ST_FRAME_PORT_NAME "schedtest.results"

/* CRC-32 (IEEE, reflected), continued from `crc` (start with 0). */
static inline uint32_t st_frame_crc32(uint32_t crc, const void *data,
                                      size_t len)
{
    const unsigned char *p = data;
    crc = ~crc;
    while (len--) {
        crc ^= *p++;
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

#endif
