# danqing build. `make` builds build/danqing; `make check` installs what is missing, builds a
# sanitizer build and runs every test; `make demo` sets up and serves the sample collection;
# `make bench` measures against IIPImage and static files. Sources are found by wildcard:
# a new src/<module>/*.c or tests/unit/<module>/test_*.c needs no Makefile change.

CC      ?= cc
# Analysis (issues 11-13): fftw3, openblas + lapacke, gsl, and VLFeat (no .pc file: -lvl below).
# Scale-out (issue 15): libpq and libcurl.
PKGS    := vips libmicrohttpd jansson sqlite3 libsodium lcms2 libtiff-4 libjpeg libturbojpeg libpng opencc zlib \
           fftw3 openblas lapacke gsl libpq libcurl libcrypto libxml-2.0
CFLAGS_BASE := -std=c11 -Wall -Wextra -Werror -D_DEFAULT_SOURCE -D_FILE_OFFSET_BITS=64 \
               -Isrc -MMD -MP $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LIBS    := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lvl -lbz2 -lm -lpthread
REL_FLAGS := -O2 -g
SAN_FLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

# SKIP=dir leaves a module out of a build (useful while one is being rewritten).
SRCS     := $(filter-out $(if $(SKIP),$(SKIP)/%),$(shell find src -name '*.c' | sort))
LIB_SRCS := $(filter-out src/cli/main.c,$(SRCS))
TEST_SRCS := $(shell find tests/unit tests/integration -name 'test_*.c' 2>/dev/null | sort) \
             $(shell find tests/regress -name 'issue_*.c' 2>/dev/null | sort)

REL_OBJS := $(LIB_SRCS:%.c=build/rel/%.o)
SAN_OBJS := $(LIB_SRCS:%.c=build/san/%.o)
SAN_TESTS := $(TEST_SRCS:%.c=build/san/%)

.PHONY: all deps check test demo bench science validate fuzz fuzz-live clean format web
all: build/danqing

deps:
	@scripts/deps.sh build

Q := $(if $(V),,@)

build/rel/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS_BASE) $(REL_FLAGS) -c $< -o $@

build/san/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  CC san  $<")
	$(Q)$(CC) $(CFLAGS_BASE) $(SAN_FLAGS) -c $< -o $@

build/rel/libdanqing.a: $(REL_OBJS)
	@rm -f $@
	$(Q)ar rcs $@ $^

build/san/libdanqing.a: $(SAN_OBJS)
	@rm -f $@
	$(Q)ar rcs $@ $^

build/danqing: build/rel/src/cli/main.o build/rel/libdanqing.a
	@$(if $(V),,echo "  LINK    $@")
	$(Q)$(CC) $(REL_FLAGS) -o $@ $^ $(LIBS)

build/san/danqing: build/san/src/cli/main.o build/san/libdanqing.a
	@$(if $(V),,echo "  LINK    $@")
	$(Q)$(CC) $(SAN_FLAGS) -o $@ $^ $(LIBS)

build/san/tests/%: tests/%.c build/san/libdanqing.a
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  TEST    $<")
	$(Q)$(CC) $(CFLAGS_BASE) $(SAN_FLAGS) -Itests -o $@ $< build/san/libdanqing.a $(LIBS)

# The search module's micro-benchmark (tokenizer MB/s, FTS5 import rate, query latency).
build/search_bench: bench/search_bench.c build/rel/libdanqing.a
	$(Q)$(CC) $(CFLAGS_BASE) $(REL_FLAGS) -o $@ $< build/rel/libdanqing.a $(LIBS)

# ---------------------------------------------------------------- web front end (issue 6)
# build/web/ is what `danqing serve` answers at / and /static/: web/ as written (no build step
# at run time), OpenSeadragon from npm (exact version pinned in package-lock.json; `npm ci`
# when node_modules is missing or older than the lock) and the Kai heading font subset from
# Debian's fonts-arphic-ukai (fontTools; two WOFF2 files with unicode-range, see
# web/tools/font-subset.py). build/danqing, check and demo depend on it (order-only).
WEB_SRCS := $(shell find web -type f -not -path 'web/tools/*' 2>/dev/null | sort)
WEB_FONT_SRCS := $(wildcard web/*.html web/js/*.js web/js/*/*.js) web/tools/font-subset.py
UKAI := /usr/share/fonts/truetype/arphic/ukai.ttc
.PHONY: web
web: build/web/.stamp

node_modules/.package-lock.json: package.json package-lock.json
	@$(if $(V),,echo "  NPM     ci")
	$(Q)npm ci --no-audit --no-fund --loglevel=error
	@touch $@

build/web/fonts/.stamp: $(WEB_FONT_SRCS) $(UKAI)
	@mkdir -p build/web/fonts build/web/css
	$(Q)/usr/bin/python3 web/tools/font-subset.py $(UKAI) web build/web/fonts build/web/css/fonts.css 2>/dev/null
	@touch $@

build/web/.stamp: $(WEB_SRCS) node_modules/.package-lock.json build/web/fonts/.stamp
	@$(if $(V),,echo "  WEB     build/web")
	$(Q)mkdir -p build/web/vendor && tar -C web --exclude=./tools -cf - . | tar -C build/web -xf -
	$(Q)rm -rf build/web/vendor/openseadragon && \
	  cp -r node_modules/openseadragon/build/openseadragon build/web/vendor/openseadragon && \
	  rm -f build/web/vendor/openseadragon/*.map
	$(Q)rm -rf build/web/vendor/three && mkdir -p build/web/vendor/three && \
	  cp node_modules/three/build/three.module.js node_modules/three/build/three.core.js \
	    node_modules/three/LICENSE build/web/vendor/three/
	@touch $@

build/danqing build/san/danqing: | build/web/.stamp
# ---------------------------------------------------------------- end web

# The fuzz target links the request parsers (pure code: no I/O) with libFuzzer under clang.
FUZZ_SRCS := $(wildcard src/core/*.c src/iiif/*.c)
build/fuzz/fuzz_iiif: fuzz/fuzz_iiif.c $(FUZZ_SRCS)
	@mkdir -p $(dir $@)
	clang -std=c11 -D_DEFAULT_SOURCE -Isrc -g -O1 -fsanitize=fuzzer,address,undefined \
	  $(shell pkg-config --cflags libsodium libcrypto jansson) -o $@ $^ \
	  $(shell pkg-config --libs libsodium libcrypto jansson) -lm

# The catalog target runs the write-API parsers (relic JSON, merge patches, imports,
# annotation and tour bodies, content state) over a real SQLite catalog.
FUZZ_CAT_SRCS := $(wildcard src/core/*.c src/iiif/*.c src/search/*.c src/catalog/*.c src/style/*.c)
FUZZ_CAT_PKGS := libsodium libcrypto jansson sqlite3 opencc libpq openblas lapacke
build/fuzz/fuzz_catalog: fuzz/fuzz_catalog.c $(FUZZ_CAT_SRCS)
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  FUZZ    $@")
	$(Q)clang -std=c11 -D_DEFAULT_SOURCE -Isrc -g -O1 -fsanitize=fuzzer,address,undefined \
	  $(shell pkg-config --cflags $(FUZZ_CAT_PKGS)) -o $@ $^ \
	  $(shell pkg-config --libs $(FUZZ_CAT_PKGS)) -lbz2 -lm -lpthread

# The search-query target runs the public query parser (what /api/relics?q= takes) and the
# SQLite backend's rendering of its plans into a real FTS5 table with our tokenizer.
build/fuzz/fuzz_query: fuzz/fuzz_query.c $(FUZZ_CAT_SRCS)
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  FUZZ    $@")
	$(Q)clang -std=c11 -D_DEFAULT_SOURCE -Isrc -g -O1 -fsanitize=fuzzer,address,undefined \
	  $(shell pkg-config --cflags $(FUZZ_CAT_PKGS)) -o $@ $^ \
	  $(shell pkg-config --libs $(FUZZ_CAT_PKGS)) -lbz2 -lm -lpthread

# The OAI-PMH target (issue 16) runs the /oai request parser and its resumption tokens;
# fuzz_oai_read the reader of other repositories' OAI-PMH answers (lod/oai_read.c, libxml2).
# fuzz_manifest the mapping of other institutions' IIIF Manifests (3.0 and 2.1, lod/harvest.c).
FUZZ_OAI_SRCS := $(wildcard src/core/*.c src/lod/*.c)
build/fuzz/fuzz_oai build/fuzz/fuzz_oai_read build/fuzz/fuzz_manifest: build/fuzz/%: fuzz/%.c $(FUZZ_OAI_SRCS)
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  FUZZ    $@")
	$(Q)clang -std=c11 -D_DEFAULT_SOURCE -Isrc -g -O1 -fsanitize=fuzzer,address,undefined \
	  $(shell pkg-config --cflags libsodium libcrypto jansson libxml-2.0) -o $@ $^ \
	  $(shell pkg-config --libs libsodium libcrypto jansson libxml-2.0) -lm
# The base64 target (issue 14) runs the decoder of the scene layers' PNG data URLs;
# fuzz_iiif_auth (issue 16) the IIIF Auth 2.0 token service's messageId/origin and its page.
build/fuzz/fuzz_base64 build/fuzz/fuzz_iiif_auth: build/fuzz/%: fuzz/%.c $(FUZZ_SRCS)
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  FUZZ    $@")
	$(Q)clang -std=c11 -D_DEFAULT_SOURCE -Isrc -g -O1 -fsanitize=fuzzer,address,undefined \
	  $(shell pkg-config --cflags libsodium libcrypto jansson) -o $@ $^ \
	  $(shell pkg-config --libs libsodium libcrypto jansson) -lm
# The multispectral target (issue 11) runs the spectral API's path, layer and point parsers.
build/fuzz/fuzz_spectral: fuzz/fuzz_spectral.c src/http/spectral_layer.c $(FUZZ_SRCS)
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  FUZZ    $@")
	$(Q)clang -std=c11 -D_DEFAULT_SOURCE -Isrc -g -O1 -fsanitize=fuzzer,address,undefined \
	  $(shell pkg-config --cflags libsodium libcrypto jansson) -o $@ $^ \
	  $(shell pkg-config --libs libsodium libcrypto jansson) -lm
# The S3 answer reader (issue 15) runs blob/s3_xml.c over arbitrary bytes.
build/fuzz/fuzz_s3xml: fuzz/fuzz_s3xml.c $(FUZZ_SRCS) src/blob/s3_xml.c
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  FUZZ    $@")
	$(Q)clang -std=c11 -D_DEFAULT_SOURCE -Isrc -g -O1 -fsanitize=fuzzer,address,undefined \
	  $(shell pkg-config --cflags libsodium libcrypto jansson) -o $@ $^ \
	  $(shell pkg-config --libs libsodium libcrypto jansson) -lm
FUZZ_TARGETS := $(patsubst fuzz/%.c,build/fuzz/%,$(wildcard fuzz/fuzz_*.c))
fuzz: $(FUZZ_TARGETS)

# The live bad-input sweep (issue 10): >= 5,000 malformed requests of every class against a
# running server; no undeclared 5xx, no crash, bounded RSS, /health within 100 ms throughout.
# `make check` runs it for a short budget (DQ_FUZZ_LIVE_REQUESTS, default 1000) on the
# sanitizer build. FUZZ_LIVE_REQUESTS and FUZZ_LIVE_SEED change the full run.
fuzz-live: build/danqing
	@python3 scripts/fuzz-live.py --bin build/danqing --requests $(or $(FUZZ_LIVE_REQUESTS),5000) \
	  --seed $(or $(FUZZ_LIVE_SEED),10)

# check, demo and bench build with one job per CPU unless make was given -j itself: a clean
# build compiles every source three times (release, sanitizer, fuzz targets).
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
PAR = $(if $(findstring -j,$(MAKEFLAGS))$(findstring jobserver,$(MAKEFLAGS)),,-j$(JOBS))

check:
	@scripts/deps.sh check
	@$(MAKE) $(PAR) --no-print-directory build/danqing build/san/danqing $(SAN_TESTS) $(FUZZ_TARGETS)
	@scripts/run-tests.sh

test: check

demo:
	@scripts/deps.sh demo
	@$(MAKE) $(PAR) --no-print-directory build/danqing
	@scripts/demo.sh

bench:
	@scripts/deps.sh bench
	@$(MAKE) $(PAR) --no-print-directory build/danqing
	@bench/run.sh $(BENCH)

# Validation against third-party schemas that cannot ship in this repository (the Linked Art
# JSON schemas, the LIDO 1.0 XSD, the IIIF presentation schema; how to fetch them into .cache/: each test's header): fails
# when they are missing. `make check` runs the same tests without them, saying what did not run.
validate:
	@scripts/deps.sh check
	@$(MAKE) --no-print-directory build/danqing build/san/danqing
	@DQ_VALIDATE=1 DQ_TEST_FILTER=scripts/test_linkedart scripts/run-tests.sh
	@DQ_VALIDATE=1 DQ_TEST_FILTER=scripts/test_oai_harvest scripts/run-tests.sh
	@DQ_VALIDATE=1 DQ_TEST_FILTER=scripts/test_manifests scripts/run-tests.sh

# The analysis tables against ground truth and peers (bench/science/run.sh; SCIENCE="part ...").
science:
	@scripts/deps.sh bench
	@$(MAKE) $(PAR) --no-print-directory build/danqing
	@bench/science/run.sh $(SCIENCE)

format:
	clang-format -i $(SRCS) $(TEST_SRCS)

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)

# The per-pixel loops of spectral add (calibration rows, Lanczos resampling, encoding) are
# vectorised by GCC only at -O3 (its -O2 cost model leaves them scalar); same results, since
# each pixel's sums keep their order (no -ffast-math, no contraction).
build/rel/src/spectral/%.o build/rel/src/cli/spectral_stack.o: REL_FLAGS = -O3 -g
# unmix.c's per-model loop selects among computed candidates; GCC turns those selects into vector
# blends only when it may assume that comparisons raise no FP traps (values are unchanged: the
# pigment maps are byte-identical with and without it).
build/rel/src/spectral/unmix.o: REL_FLAGS = -O3 -g -fno-trapping-math
