/* carve_formats.c: the built-in formats, in the order a candidate tries them (see carve.h).
 * The most specific signatures come first; a format's validator decides, so a false
 * signature costs a look and nothing else. */
#include "salvage/carve.h"

extern const struct carve_format carve_format_jpeg, carve_format_png, carve_format_gif,
    carve_format_bmp, carve_format_pdf, carve_format_zip, carve_format_gzip,
    carve_format_zstd, carve_format_sqlite, carve_format_elf, carve_format_tar,
    carve_format_tiff_le, carve_format_tiff_be, carve_format_riff, carve_format_bmff,
    carve_format_matroska, carve_format_ogg, carve_format_mp3, carve_format_xz,
    carve_format_bzip2, carve_format_mbox, carve_format_mail_received,
    carve_format_mail_return, carve_format_mail_delivered, carve_format_bdb,
    carve_format_gdbm;

static const struct carve_format *const builtin[] = {
	&carve_format_jpeg, &carve_format_png, &carve_format_gif, &carve_format_pdf,
	&carve_format_zip, &carve_format_sqlite, &carve_format_gzip, &carve_format_zstd,
	&carve_format_elf, &carve_format_tar, &carve_format_tiff_le, &carve_format_tiff_be,
	&carve_format_riff, &carve_format_bmff, &carve_format_matroska, &carve_format_ogg,
	&carve_format_mp3, &carve_format_xz, &carve_format_bzip2, &carve_format_bdb,
	&carve_format_gdbm, &carve_format_mbox, &carve_format_mail_received,
	&carve_format_mail_return, &carve_format_mail_delivered, &carve_format_bmp,
};

const struct carve_format *const *carve_builtin_formats(size_t *count)
{
	*count = sizeof builtin / sizeof builtin[0];
	return builtin;
}
