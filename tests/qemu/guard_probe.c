/* guard_probe: tries one way of writing to a block device, for test_guard.py's "guard under
 * fire". It is built on the host (static) and reaches the guest in an extra initramfs, so
 * the image carries no test-only program. Each way it knows is a system call the shell
 * tools of the image cannot make (mmap, the discard and zeroing ioctls, fallocate, BLKPG,
 * SG_IO, NVMe passthrough, a device-mapper table on top of the disk, swapon, io_uring).
 *
 *   usage: guard_probe WAY DEVICE [ARGUMENT]
 *
 * Prints one line, "probe WAY DEVICE: refused: REASON" or "probe WAY DEVICE: ACCEPTED"
 * (every call succeeded, the device said nothing against it), and exits 0 when refused,
 * 1 when accepted, 2 on a usage error. Accepted is not proof of a write (the host's sha256
 * of the disk image is that), refused is: the kernel or the device said no.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/sysmacros.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/blkpg.h>
#include <linux/dm-ioctl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <linux/io_uring.h>
#include <linux/nvme_ioctl.h>
#include <scsi/sg.h>

static const char *way, *device;
static unsigned char block[4096] __attribute__((aligned(4096)));

static int refused(const char *what)
{
	printf("probe %s %s: refused: %s: %s\n", way, device, what, strerror(errno));
	return 0;
}

static int accepted(void)
{
	printf("probe %s %s: ACCEPTED\n", way, device);
	return 1;
}

static int open_device(int flags, int *fd)
{
	*fd = open(device, flags);
	return *fd < 0 ? -1 : 0;
}

/* write(2) at 64 KiB, then fsync: through the page cache, or O_DIRECT past it. */
static int write_at(int extra_flags)
{
	int fd;

	if (open_device(O_RDWR | extra_flags, &fd) != 0)
		return refused("open for writing");
	if (pwrite(fd, block, sizeof block, 65536) != (ssize_t)sizeof block)
		return refused("pwrite");
	if (fsync(fd) != 0)
		return refused("fsync");
	return accepted();
}

static int shared_mmap(void)
{
	unsigned char *map;
	int fd;

	if (open_device(O_RDWR, &fd) != 0)
		return refused("open for writing");
	map = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED)
		return refused("mmap shared writable");
	memcpy(map + 8192, block, 4096);
	if (msync(map, 65536, MS_SYNC) != 0)
		return refused("msync");
	if (fsync(fd) != 0)
		return refused("fsync");
	return accepted();
}

/* BLKDISCARD, BLKZEROOUT, BLKSECDISCARD: a range of [offset, length], on a descriptor opened
 * for writing when the kernel allows it, else read-only (the ioctl must refuse too). */
static int range_ioctl(unsigned long request, const char *name)
{
	uint64_t range[2] = { 65536, 65536 };
	int fd;

	if (open_device(O_RDWR, &fd) != 0 && open_device(O_RDONLY, &fd) != 0)
		return refused("open");
	if (ioctl(fd, request, range) != 0)
		return refused(name);
	return accepted();
}

static int punch(int mode, const char *name)
{
	int fd;

	if (open_device(O_RDWR, &fd) != 0)
		return refused("open for writing");
	if (fallocate(fd, mode, 65536, 65536) != 0)
		return refused(name);
	return accepted();
}

/* A new partition 9 over sectors [2048, 4096) of a guarded disk (one without partitions
 * there), then a write to it. */
static int blkpg_add_and_write(void)
{
	struct blkpg_partition part = { .start = 2048 * 512LL, .length = 2048 * 512LL, .pno = 9 };
	struct blkpg_ioctl_arg arg = { .op = BLKPG_ADD_PARTITION, .datalen = sizeof part,
		.data = &part };
	char name[64];
	int fd, partition, tries;

	if (open_device(O_RDONLY, &fd) != 0)
		return refused("open");
	if (ioctl(fd, BLKPG, &arg) != 0)
		return refused("BLKPG_ADD_PARTITION");
	snprintf(name, sizeof name, "%s%s9", device, strstr(device, "nvme") ? "p" : "");
	/* devtmpfs makes the node a moment later. */
	for (tries = 0; (partition = open(name, O_RDWR)) < 0 && errno == ENOENT && tries < 50;
	    tries++)
		usleep(100000);
	if (partition < 0)
		return refused("open the new partition for writing");
	if (pwrite(partition, block, sizeof block, 0) != (ssize_t)sizeof block)
		return refused("pwrite to the new partition");
	if (fsync(partition) != 0)
		return refused("fsync of the new partition");
	return accepted();
}

static int sg_command(const unsigned char *cdb, int cdb_length, int direction, const char *name)
{
	unsigned char sense[32];
	struct sg_io_hdr io = { .interface_id = 'S', .cmd_len = (unsigned char)cdb_length,
		.cmdp = (unsigned char *)cdb, .dxfer_direction = direction, .dxfer_len = 512,
		.dxferp = block, .sbp = sense, .mx_sb_len = sizeof sense, .timeout = 10000 };
	int fd;

	if (direction == SG_DXFER_NONE)
		io.dxfer_len = 0;
	if (open_device(O_RDWR, &fd) != 0 && open_device(O_RDONLY, &fd) != 0)
		return refused("open");
	if (ioctl(fd, SG_IO, &io) != 0)
		return refused(name);
	if (io.status || io.host_status || io.driver_status) {
		errno = EIO;
		printf("probe %s %s: refused: %s: the device answered status %#x host %#x driver "
		    "%#x\n", way, device, name, io.status, io.host_status, io.driver_status);
		return 0;
	}
	return accepted();
}

static int sg_way(void)
{
	/* WRITE(10) of one sector at LBA 128. */
	static const unsigned char write10[10] = { 0x2a, 0, 0, 0, 0, 128, 0, 0, 1, 0 };
	/* ATA PASS-THROUGH(16): PIO data-out, WRITE SECTORS (0x30), one sector at LBA 128. */
	static const unsigned char ata_write[16] = { 0x85, 5 << 1, 0x26, 0, 0, 0, 1, 0, 128, 0, 0,
		0, 0, 0x40, 0x30, 0 };
	/* ATA PASS-THROUGH(16): non-data, SECURITY ERASE PREPARE (0xf3). */
	static const unsigned char ata_erase[16] = { 0x85, 3 << 1, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		0, 0x40, 0xf3, 0 };
	/* WRITE SAME(16) of one sector at LBA 128. */
	static const unsigned char write_same[16] = { 0x93, 0, 0, 0, 0, 0, 0, 0, 0, 128, 0, 0, 0,
		1, 0, 0 };

	if (strcmp(way, "sg-write10") == 0)
		return sg_command(write10, sizeof write10, SG_DXFER_TO_DEV, "SG_IO WRITE(10)");
	if (strcmp(way, "sg-ata-write") == 0)
		return sg_command(ata_write, sizeof ata_write, SG_DXFER_TO_DEV,
		    "SG_IO ATA PASS-THROUGH WRITE SECTORS");
	if (strcmp(way, "sg-ata-erase") == 0)
		return sg_command(ata_erase, sizeof ata_erase, SG_DXFER_NONE,
		    "SG_IO ATA PASS-THROUGH SECURITY ERASE PREPARE");
	return sg_command(write_same, sizeof write_same, SG_DXFER_TO_DEV, "SG_IO WRITE SAME(16)");
}

/* NVMe Write (0x01), Write Zeroes (0x08) or Dataset Management deallocate (0x09) of block
 * 16 on namespace 1, through the namespace's block device or its generic char device. */
static int nvme_io(unsigned char opcode, const char *name)
{
	static struct { uint32_t context, length; uint64_t start; } dsm = { 0, 1, 16 };
	struct nvme_passthru_cmd64 cmd = { .opcode = opcode, .nsid = 1, .cdw10 = 16,
		.cdw11 = 0, .cdw12 = 0, .timeout_ms = 10000 };
	int fd;

	if (opcode == 0x01) {
		cmd.addr = (uintptr_t)block;
		cmd.data_len = 512;
	} else if (opcode == 0x09) {
		cmd.addr = (uintptr_t)&dsm;
		cmd.data_len = sizeof dsm;
		cmd.cdw10 = 0;
		cmd.cdw11 = 1 << 2;
	}
	if (open_device(O_RDWR, &fd) != 0 && open_device(O_RDONLY, &fd) != 0)
		return refused("open");
	if (ioctl(fd, NVME_IOCTL_IO64_CMD, &cmd) != 0)
		return refused(name);
	if (cmd.result != 0)
		printf("probe %s %s: (result %#llx)\n", way, device, (unsigned long long)cmd.result);
	return accepted();
}

/* Format NVM (admin 0x80) of namespace 1, on the controller's char device. */
static int nvme_format(void)
{
	struct nvme_admin_cmd cmd = { .opcode = 0x80, .nsid = 1, .timeout_ms = 30000 };
	int fd;

	if (open_device(O_RDWR, &fd) != 0)
		return refused("open");
	if (ioctl(fd, NVME_IOCTL_ADMIN_CMD, &cmd) != 0)
		return refused("NVME_IOCTL_ADMIN_CMD Format NVM");
	return accepted();
}

static int dm_call(int control, unsigned long request, struct dm_ioctl *io, const char *name)
{
	io->version[0] = DM_VERSION_MAJOR;
	io->version[1] = 0;
	io->version[2] = 0;
	snprintf(io->name, sizeof io->name, "%s", "guardprobe");
	if (ioctl(control, request, io) != 0)
		return refused(name) - 1;
	return 0;
}

/* A linear device-mapper table over the whole of DEVICE (not guarded: dm-* is exempt), made
 * writable, then a write through it. */
static int dm_linear_write(void)
{
	static union { struct dm_ioctl io; char bytes[16384]; } buffer;
	struct dm_target_spec *spec;
	struct stat status;
	uint64_t sectors = 0;
	char name[64];
	int control, fd, mapped;

	if (stat(device, &status) != 0 || open_device(O_RDONLY, &fd) != 0
	    || ioctl(fd, BLKGETSIZE64, &sectors) != 0)
		return refused("stat");
	control = open("/dev/mapper/control", O_RDWR);
	if (control < 0)
		return refused("open /dev/mapper/control");
	memset(&buffer, 0, sizeof buffer);
	buffer.io.data_size = sizeof buffer;
	if (dm_call(control, DM_DEV_CREATE, &buffer.io, "DM_DEV_CREATE") != 0)
		return 0;
	memset(&buffer, 0, sizeof buffer);
	buffer.io.data_size = sizeof buffer;
	buffer.io.data_start = sizeof buffer.io;
	buffer.io.target_count = 1;
	spec = (struct dm_target_spec *)(buffer.bytes + sizeof buffer.io);
	spec->length = sectors / 512;
	snprintf(spec->target_type, sizeof spec->target_type, "linear");
	snprintf((char *)(spec + 1), 64, "%u:%u 0", major(status.st_rdev), minor(status.st_rdev));
	spec->next = sizeof *spec + 64;
	if (dm_call(control, DM_TABLE_LOAD, &buffer.io, "DM_TABLE_LOAD (linear, writable)") != 0)
		return 0;
	memset(&buffer, 0, sizeof buffer);
	buffer.io.data_size = sizeof buffer;
	if (dm_call(control, DM_DEV_SUSPEND, &buffer.io, "DM_DEV_SUSPEND (resume)") != 0)
		return 0;
	snprintf(name, sizeof name, "/dev/dm-%u", minor(buffer.io.dev));
	mapped = open(name, O_RDWR);
	if (mapped < 0)
		return refused("open the mapped device for writing");
	if (pwrite(mapped, block, sizeof block, 65536) != (ssize_t)sizeof block)
		return refused("pwrite through the mapping");
	if (fsync(mapped) != 0)
		return refused("fsync through the mapping");
	return accepted();
}

/* One IORING_OP_WRITE (with O_DIRECT when asked) through io_uring, which submits I/O without
 * the write(2) path: rings set up by hand, as liburing is not in the image either. */
static int uring_write(int extra_flags)
{
	struct io_uring_params params = { 0 };
	unsigned *sq_tail, *sq_array, *cq_head, *cq_tail, mask;
	struct io_uring_sqe *sqes;
	struct io_uring_cqe *cqes;
	unsigned char *sq, *cq;
	int ring, fd, result;

	if (open_device(O_RDWR | extra_flags, &fd) != 0)
		return refused("open for writing");
	ring = (int)syscall(__NR_io_uring_setup, 1, &params);
	if (ring < 0)
		return refused("io_uring_setup");
	sq = mmap(NULL, params.sq_off.array + params.sq_entries * sizeof(unsigned),
	    PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring, IORING_OFF_SQ_RING);
	cq = mmap(NULL, params.cq_off.cqes + params.cq_entries * sizeof(struct io_uring_cqe),
	    PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring, IORING_OFF_CQ_RING);
	sqes = mmap(NULL, params.sq_entries * sizeof *sqes, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_POPULATE, ring, IORING_OFF_SQES);
	if (sq == MAP_FAILED || cq == MAP_FAILED || sqes == MAP_FAILED)
		return refused("mmap of the io_uring rings");
	sq_tail = (unsigned *)(sq + params.sq_off.tail);
	sq_array = (unsigned *)(sq + params.sq_off.array);
	mask = *(unsigned *)(sq + params.sq_off.ring_mask);
	memset(&sqes[0], 0, sizeof sqes[0]);
	sqes[0].opcode = IORING_OP_WRITE;
	sqes[0].fd = fd;
	sqes[0].addr = (uintptr_t)block;
	sqes[0].len = sizeof block;
	sqes[0].off = 65536;
	sq_array[*sq_tail & mask] = 0;
	__atomic_store_n(sq_tail, *sq_tail + 1, __ATOMIC_RELEASE);
	if (syscall(__NR_io_uring_enter, ring, 1, 1, IORING_ENTER_GETEVENTS, NULL, 0) < 0)
		return refused("io_uring_enter");
	cq_head = (unsigned *)(cq + params.cq_off.head);
	cq_tail = (unsigned *)(cq + params.cq_off.tail);
	cqes = (struct io_uring_cqe *)(cq + params.cq_off.cqes);
	if (*cq_head == __atomic_load_n(cq_tail, __ATOMIC_ACQUIRE)) {
		errno = EAGAIN;
		return refused("io_uring completion");
	}
	result = cqes[*cq_head & *(unsigned *)(cq + params.cq_off.ring_mask)].res;
	if (result < 0) {
		errno = -result;
		return refused("io_uring write");
	}
	if (fsync(fd) != 0)
		return refused("fsync");
	return accepted();
}

/* Swap writes pages to the device behind the file system's back. */
static int swapon_device(void)
{
	if (syscall(SYS_swapon, device, 0) != 0)
		return refused("swapon");
	syscall(SYS_swapoff, device);
	return accepted();
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: guard_probe WAY DEVICE\n");
		return 2;
	}
	way = argv[1];
	device = argv[2];
	memset(block, 0xa5, sizeof block);
	memcpy(block, "GUARD PROBE WROTE THIS", 22);
	if (strcmp(way, "write") == 0)
		return write_at(0);
	if (strcmp(way, "direct") == 0)
		return write_at(O_DIRECT);
	if (strcmp(way, "mmap") == 0)
		return shared_mmap();
	if (strcmp(way, "discard") == 0)
		return range_ioctl(BLKDISCARD, "BLKDISCARD");
	if (strcmp(way, "zeroout") == 0)
		return range_ioctl(BLKZEROOUT, "BLKZEROOUT");
	if (strcmp(way, "secdiscard") == 0)
		return range_ioctl(BLKSECDISCARD, "BLKSECDISCARD");
	if (strcmp(way, "punch-hole") == 0)
		return punch(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, "fallocate PUNCH_HOLE");
	if (strcmp(way, "zero-range") == 0)
		return punch(FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, "fallocate ZERO_RANGE");
	if (strcmp(way, "blkpg") == 0)
		return blkpg_add_and_write();
	if (strncmp(way, "sg-", 3) == 0)
		return sg_way();
	if (strcmp(way, "nvme-write") == 0)
		return nvme_io(0x01, "NVME_IOCTL_IO64_CMD Write");
	if (strcmp(way, "nvme-write-zeroes") == 0)
		return nvme_io(0x08, "NVME_IOCTL_IO64_CMD Write Zeroes");
	if (strcmp(way, "nvme-deallocate") == 0)
		return nvme_io(0x09, "NVME_IOCTL_IO64_CMD Dataset Management");
	if (strcmp(way, "nvme-format") == 0)
		return nvme_format();
	if (strcmp(way, "dm-linear") == 0)
		return dm_linear_write();
	if (strcmp(way, "swapon") == 0)
		return swapon_device();
	if (strcmp(way, "io-uring") == 0)
		return uring_write(0);
	if (strcmp(way, "io-uring-direct") == 0)
		return uring_write(O_DIRECT);
	fprintf(stderr, "guard_probe: unknown way '%s'\n", way);
	return 2;
}
