/* Randomized: host writes, images, realize and reset across several mems
 * of both modes, checked against byte models after every step. */
#include "mem_util.h"

#define SIZE  (8 * MiB)
#define NMEM  4
#define NIMG  6
#define STEPS 400
#define PAGES (SIZE / PAGE)

struct slot {
	struct vmm_mem *mem; /* NULL: no mem */
	int vm_fd;
	uint8_t *model; /* valid when mem has contents */
	bool empty;
};

struct img {
	struct vmm_mem_image *img; /* NULL: none */
	uint8_t *model;
};

static uint64_t rng = 88172645463325252ull;

/* xorshift64: a pseudo-random number below n. */
static uint64_t rnd(uint64_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng % n;
}

/* A mode for mem slot i: both kinds side by side. */
static enum cowvm_mem_mode slot_mode(unsigned i)
{
	return i % 2 ? COWVM_MEM_UFFD : COWVM_MEM_KERNEL;
}

/* (Re)create slot i: fresh zero RAM or an empty mem. */
static void slot_new(struct slot *s, unsigned i, bool empty)
{
	if (s->mem)
		mt_mem_free(s->mem, s->vm_fd);
	s->mem = mt_mem_new(SIZE, slot_mode(i), empty, &s->vm_fd);
	s->empty = empty;
	memset(s->model, 0, SIZE);
}

int main(int argc, char **argv)
{
	struct slot slots[NMEM] = {0};
	struct img imgs[NIMG] = {0};
	unsigned long counts[6] = {0};

	test_require_kvm();
	if (argc > 1)
		rng = strtoull(argv[1], NULL, 0) | 1;
	for (unsigned i = 0; i < NMEM; i++) {
		slots[i].model = calloc(1, SIZE);
		TEST_ASSERT(slots[i].model, "model");
		slot_new(&slots[i], i, i == NMEM - 1);
	}
	for (unsigned i = 0; i < NIMG; i++)
		imgs[i].model = malloc(SIZE);
	for (unsigned step = 0; step < STEPS; step++) {
		unsigned si = (unsigned)rnd(NMEM), ii = (unsigned)rnd(NIMG);
		struct slot *s = &slots[si];
		struct img *im = &imgs[ii];
		uint64_t op = rnd(100);

		if (op < 45 && !s->empty) {
			/* A host write of up to 3 pages anywhere in RAM. */
			uint64_t len = 1 + rnd(3 * PAGE);
			uint64_t off = rnd(SIZE - len + 1);

			mt_host_write(s->mem, s->model, off, len, step);
			counts[0]++;
		} else if (op < 60 && !s->empty) {
			vmm_mem_image_put(im->img);
			TEST_OK(vmm_mem_image_take(s->mem, &im->img));
			memcpy(im->model, s->model, SIZE);
			TEST_ASSERT_EQ(vmm_mem_written(s->mem), 0, "folded");
			counts[1]++;
		} else if (op < 85 && im->img) {
			TEST_OK(vmm_mem_realize(s->mem, im->img));
			memcpy(s->model, im->model, SIZE);
			s->empty = false;
			TEST_ASSERT_EQ(vmm_mem_written(s->mem), 0, "reset");
			counts[2]++;
		} else if (op < 90) {
			slot_new(s, si, rnd(2));
			counts[3]++;
		} else if (op < 95 && im->img) {
			vmm_mem_image_put(im->img);
			im->img = NULL;
			counts[4]++;
		} else {
			counts[5]++;
			continue;
		}
		if (!s->empty) {
			mt_expect_model(s->mem, s->model);
			if (step % 8 == 0)
				CHECK_MEM(s->mem, true);
		}
		if (step % 50 == 0)
			for (unsigned i = 0; i < NIMG; i++)
				if (imgs[i].img)
					mt_expect_image(slots[0].mem,
							imgs[i].img,
							imgs[i].model);
	}
	for (unsigned i = 0; i < NMEM; i++) {
		if (!slots[i].empty) {
			mt_expect_model(slots[i].mem, slots[i].model);
			CHECK_MEM(slots[i].mem, true);
		}
	}
	for (unsigned i = 0; i < NIMG; i++)
		if (imgs[i].img)
			mt_expect_image(slots[0].mem, imgs[i].img,
					imgs[i].model);
	for (unsigned i = 0; i < NMEM; i++) {
		mt_mem_free(slots[i].mem, slots[i].vm_fd);
		free(slots[i].model);
	}
	for (unsigned i = 0; i < NIMG; i++) {
		vmm_mem_image_put(imgs[i].img);
		free(imgs[i].model);
	}
	TEST_ASSERT_EQ(vmm_mem_store_frames(), 0, "everything freed");
	printf("writes %lu images %lu realizes %lu renews %lu puts %lu idle "
	       "%lu\n",
	       counts[0], counts[1], counts[2], counts[3], counts[4],
	       counts[5]);
	return 0;
}
