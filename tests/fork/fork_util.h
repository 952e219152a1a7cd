/* Helpers shared by the fork tests: forktest VMs on one captured console,
 * advanced round by round, their output and memory checked against
 * forkref. */
#ifndef FORK_UTIL_H
#define FORK_UTIL_H

#include <inttypes.h>
#include <stdint.h>
#include <sys/types.h>

#include "cowvm.h"
#include "cowvm_abi.h"
#include "cowvm_workload_abi.h"
#include "forkref.h"
#include "test_util.h"

#define MIB	      (1ull << 20)
#define FT_MAX_ROUNDS 64

/* One forktest configuration shared by a family of VMs. */
struct ft {
	const char *elf;
	uint64_t mem, rounds;
	enum cowvm_mem_mode mode; /* how every VM of the family keeps RAM */
	struct forkref ref;
	int console; /* memfd every VM of the family writes to */
};

/* A VM running forktest and what it has been through. */
struct fnode {
	struct cowvm *vm;
	uint64_t ids[FT_MAX_ROUNDS]; /* the id each finished round received */
	uint64_t done;		     /* rounds finished (lines printed) */
	int exited;		     /* printed PASS and exited 0 */
};

/* The arguments every fork test takes: GUEST_ELF [default|kernel|uffd];
 * returns the memory mode and skips when there is no KVM. */
enum cowvm_mem_mode ft_args(int argc, char **argv);

/* Set up family f: guest elf, mem bytes of RAM in mode, forktest
 * arguments. */
void ft_init(struct ft *f, const char *elf, uint64_t mem,
	     enum cowvm_mem_mode mode, uint64_t seed, uint64_t mib,
	     uint64_t rounds, uint64_t pages);

/* Release f's reference and console. */
void ft_fini(struct ft *f);

/* Run n once; the exit must be filled. Returns the output it printed
 * (free it). */
char *ft_run(struct ft *f, struct fnode *n, struct cowvm_exit *e);

/* Assert that n stopped at the SNAPSHOT of round n->done + 1; out is the
 * output of the run, for the message. */
void ft_expect_snap(struct fnode *n, const struct cowvm_exit *e,
		    const char *out);

/* Boot a forktest VM of family f and run it to its first SNAPSHOT,
 * checking the line it prints first. */
struct fnode ft_boot(struct ft *f);

/* Resume n (stopped at a SNAPSHOT) with id: it must print exactly the
 * reference line of its next round, then stop at the next SNAPSHOT or, after
 * the last round, print PASS and exit 0. */
void ft_advance(struct ft *f, struct fnode *n, uint64_t id);

/* A copy of n's history for a new VM vm (a fork or clone of n's state);
 * fails the test when vm is NULL. */
struct fnode ft_child(const struct fnode *n, struct cowvm *vm);

/* Read all of n's region and compare every page with forkref; a
 * mismatch names the page, the round that last wrote it and the id. */
void ft_check_mem(struct ft *f, const struct fnode *n, const char *who);

#endif
