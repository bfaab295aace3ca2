/* carve_formats.c: the built-in formats, in the order a candidate tries them (see carve.h).
 * The most specific signatures come first; a format's validator decides, so a false
 * signature costs a look and nothing else. */
#include "salvage/carve.h"

extern const struct carve_format carve_format_jpeg, carve_format_png, carve_format_gif,
    carve_format_bmp, carve_format_pdf, carve_format_zip, carve_format_gzip,
    carve_format_zstd, carve_format_sqlite, carve_format_elf, carve_format_tar;

static const struct carve_format *const builtin[] = {
	&carve_format_jpeg, &carve_format_png, &carve_format_gif, &carve_format_pdf,
	&carve_format_zip, &carve_format_sqlite, &carve_format_gzip, &carve_format_zstd,
	&carve_format_elf, &carve_format_tar, &carve_format_bmp,
};

const struct carve_format *const *carve_builtin_formats(size_t *count)
{
	*count = sizeof builtin / sizeof builtin[0];
	return builtin;
}
