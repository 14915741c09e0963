/*
 * image/vips.c: process set-up of libvips. Starts vips once, blocks every loader outside a
 * small allow-list (house style 19), and sets the operation cache and worker-thread limits.
 * It does not render anything: render.c builds the pipelines, pyramid.c reads raw tiles.
 * Thread safety: dq_image_init runs once from main before any other thread touches vips; the
 * only global is the "started" flag below, written once and read-only afterwards.
 */
#include <stdatomic.h>

#include <vips/vips.h>

#include "image/image.h"

/* Set by the first successful dq_image_init; read-only afterwards (house style 18). */
static atomic_int vips_started;

/* Loaders we accept: what ingest reads (jpeg, png, webp, tiff, jp2k) and vips' own .v, which
 * tests and ingest use as an uncompressed intermediate. Unblocking a class unblocks its
 * file/buffer/source subclasses too. Everything else (svg, pdf, magick, matlab, fits, ...) is
 * attack surface we have no use for. */
static const char *const allowed_loaders[] = {
    "VipsForeignLoadJpeg", "VipsForeignLoadPng",  "VipsForeignLoadWebp",
    "VipsForeignLoadTiff", "VipsForeignLoadJp2k", "VipsForeignLoadVips",
};

int dq_image_init(const char *argv0, int vips_cache_mb, int concurrency, dq_err_t *err)
{
    if (atomic_load(&vips_started))
        return 0;
    if (vips_cache_mb < 0 || vips_cache_mb > 1 << 20 || concurrency < 0 || concurrency > 1024)
        return dq_err_set(err, DQ_EINVAL, 0, "vips cache %d MiB or concurrency %d out of range",
                          vips_cache_mb, concurrency);
    if (VIPS_INIT(argv0 ? argv0 : "danqing") != 0) {
        dq_err_set(err, DQ_EIO, 500, "vips_init: %s", vips_error_buffer());
        vips_error_clear();
        return -1;
    }
    /* Operations marked untrusted (e.g. magick, matload) first, then every loader, then the
     * allow-list back on: vips_operation_block_set applies to a class and all its subclasses. */
    vips_block_untrusted_set(TRUE);
    vips_operation_block_set("VipsForeignLoad", TRUE);
    for (size_t i = 0; i < DQ_ARRAY_LEN(allowed_loaders); i++)
        vips_operation_block_set(allowed_loaders[i], FALSE);

    /* The operation cache helps little for us (the HTTP layer caches whole responses, and the
     * renderer feeds vips fresh memory images), but bounding it keeps memory predictable. */
    vips_cache_set_max_mem((size_t)vips_cache_mb * 1024 * 1024);
    vips_cache_set_max(vips_cache_mb > 0 ? 1000 : 0);
    if (concurrency > 0)
        vips_concurrency_set(concurrency);
    atomic_store(&vips_started, 1);
    return 0;
}

void dq_image_shutdown(void)
{
    if (atomic_exchange(&vips_started, 0))
        vips_shutdown();
}

void dq_image_thread_done(void) { vips_thread_shutdown(); }
