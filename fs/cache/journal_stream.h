/* journal_stream.h - a journal record's bytes (docs/FORMAT.md, "Cache")
 * encoded and read back in pieces (internal to fs/cache/journal.c): a record
 * larger than what a slot keeps in memory (JSLOT_MEM_MAX) is written from
 * its parts through a small buffer, and read back without its objects'
 * bytes, which stay in the file until someone needs one
 * (journal_read_object). Neither side holds a record-sized buffer: the
 * daemon's memory while it commits and drains a large tree
 * (docs/PERFORMANCE.md, "Memory while draining (session 7)"). The bytes
 * are exactly those of the whole-buffer encoding. Knows nothing of slots:
 * the callers give file descriptors. Thread safety: none needed (no shared
 * state); an fd must not be written by two threads at once. */
#ifndef SEALFS_JOURNAL_STREAM_H
#define SEALFS_JOURNAL_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "journal.h"

/* Staging buffer of a streamed write or read. */
#define JSTREAM_BUF (64u * 1024u)

/* The encoded size of rec; *too_big when over JOURNAL_RECORD_MAX. */
size_t jstream_size(const struct journal_record *rec, bool *too_big);
/* Encodes rec into buf of exactly jstream_size(rec) bytes. */
void jstream_encode(unsigned char *buf, size_t size, const struct journal_record *rec);
/* Writes the encoding of rec at offset 0 of fd in pieces (pwrite; no
 * flush). 0, -ENOMEM, -errno. */
int jstream_write(int fd, const struct journal_record *rec);
/* Reads the record in fd (size bytes) into *out, checksum and layout
 * checked as journal_record_parse does, without the objects' bytes: each
 * out->objs[i].data is NULL and .off says where they are in the file.
 * -EBADMSG torn or damaged, -ENOMEM, -errno; release with
 * journal_record_release in every case. */
int jstream_read(struct journal_record *out, int fd, uint64_t size);

#endif
