# rescue: a bootable appliance that gets data off failing disks without
# writing to them. The real work is in tools/ (host-side scripts, each
# cached by its inputs); this file only names the entry points.
#
#   make          build images/rescue.efi and images/rescue.iso
#   make run      build, then boot the appliance in QEMU against a demo disk
#   make test     unit tests, then boot tests of the real image under QEMU
#   make test-scale  opt-in: dump of 200,000 files in a 128 MiB guest (an hour or more under TCG)
#   make fuzz     each fuzz target of tests/fuzz for FUZZ_SECONDS (default 60)
#   make bench    benchmarks against the tools users would otherwise use
#   make deps     install the Debian packages the build needs (root)
#   make clean    remove build outputs (the download/build cache stays)

.PHONY: all images deps run test test-unit test-qemu test-scale fuzz bench clean

all: images

deps:
	tools/install-deps

images: deps
	tools/build-image

run: images
	tools/run-demo

test: images
	tests/run

test-unit: deps
	$(MAKE) -C src check

fuzz: deps
	$(MAKE) -C src fuzz

test-qemu: images
	tests/qemu/run

test-scale: images
	tests/qemu/run -j 1 tests/qemu/scale/test_dump_scale.py

bench: images
	bench/run

clean:
	rm -rf build tests/qemu/work
	rm -f images/rescue.efi images/rescue.iso images/SHA256SUMS \
		images/build-report.txt images/kernel.config
