#include "prov/prov_fs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

struct prov_map {
	char *name;
	char *path;
	struct prov_map *next;
};

struct prov_fs {
	int rootfd;
	char *rootreal; /* realpath of the root, for the fallback check */
	prov_gen_h gen;
	void *gen_arg;
	struct prov_map *maps;
};

struct prov_file {
	int fd;
	uint64_t size;
	struct buf mem; /* generated or converted bytes when fd < 0 */
};

int prov_fs_new(struct prov_fs **out, const char *root)
{
	struct prov_fs *fs = NULL;
	int err = 0;

	*out = NULL;
	fs = calloc(1, sizeof(*fs));
	if (!fs) {
		return -ENOMEM;
	}
	fs->rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fs->rootfd < 0) {
		err = -errno;
		goto out;
	}
	fs->rootreal = realpath(root, NULL);
	if (!fs->rootreal) {
		err = -errno;
		goto out;
	}
	*out = fs;
	fs = NULL;
out:
	prov_fs_free(fs);
	return err;
}

void prov_fs_free(struct prov_fs *fs)
{
	struct prov_map *m, *next;

	if (!fs) {
		return;
	}
	for (m = fs->maps; m; m = next) {
		next = m->next;
		free(m->name);
		free(m->path);
		free(m);
	}
	if (fs->rootfd >= 0) {
		close(fs->rootfd);
	}
	free(fs->rootreal);
	free(fs);
}

void prov_fs_set_gen(struct prov_fs *fs, prov_gen_h h, void *arg)
{
	fs->gen = h;
	fs->gen_arg = arg;
}

int prov_fs_map(struct prov_fs *fs, const char *name, const char *path)
{
	struct prov_map *m;
	int err = prov_fs_name_check(name, strlen(name));

	if (err) {
		return err;
	}
	m = calloc(1, sizeof(*m));
	if (!m) {
		return -ENOMEM;
	}
	m->name = strdup(name);
	m->path = strdup(path);
	if (!m->name || !m->path) {
		free(m->name);
		free(m->path);
		free(m);
		return -ENOMEM;
	}
	/* Newest first, so a later map of the same name wins. */
	m->next = fs->maps;
	fs->maps = m;
	return 0;
}

int prov_fs_name_check(const char *name, size_t len)
{
	size_t i, comp = 0;

	if (len == 0) {
		return -TL_EPARSE;
	}
	if (len > PROV_NAME_MAX) {
		return -TL_ETOOBIG;
	}
	if (name[0] == '/') {
		return -TL_EPOLICY;
	}
	for (i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)name[i];

		/* Control characters (NUL included) and DEL never name a file
		 * we serve; a backslash is a Windows separator a client may
		 * use to smuggle "..\". */
		if (ch < 0x20 || ch == 0x7f || ch == '\\') {
			return -TL_EPARSE;
		}
	}
	for (i = 0; i <= len; i++) {
		if (i < len && name[i] != '/') {
			continue;
		}
		size_t clen = i - comp;

		if (clen == 0) {
			return -TL_EPOLICY; /* "a//b" or a trailing '/' */
		}
		if ((clen == 1 && name[comp] == '.') ||
		    (clen == 2 && name[comp] == '.' && name[comp + 1] == '.')) {
			return -TL_EPOLICY;
		}
		comp = i + 1;
	}
	return 0;
}

static int file_new(struct prov_file **out)
{
	struct prov_file *f = calloc(1, sizeof(*f));

	if (!f) {
		return -ENOMEM;
	}
	f->fd = -1;
	buf_init(&f->mem, 0);
	*out = f;
	return 0;
}

/* Open name beneath the root: openat2 RESOLVE_BENEATH lets symbolic links
 * resolve only inside the root (Linux 5.6); on older kernels resolve with
 * realpath and check the prefix. */
static int open_beneath(struct prov_fs *fs, const char *name)
{
	struct open_how how = {
	        .flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK,
	        .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
	};
	long fd = syscall(SYS_openat2, fs->rootfd, name, &how, sizeof(how));

	if (fd >= 0) {
		return (int)fd;
	}
	if (errno == EXDEV || errno == ELOOP) {
		return -TL_EPOLICY;
	}
	if (errno == ENOENT || errno == ENOTDIR) {
		return -TL_ENOTFOUND;
	}
	if (errno != ENOSYS) {
		return -errno;
	}

	char full[PATH_MAX], *real;
	size_t rl = strlen(fs->rootreal);
	int n = snprintf(full, sizeof(full), "%s/%s", fs->rootreal, name);
	int rfd;

	if (n < 0 || (size_t)n >= sizeof(full)) {
		return -TL_ETOOBIG;
	}
	real = realpath(full, NULL);
	if (!real) {
		return errno == ENOENT || errno == ENOTDIR ? -TL_ENOTFOUND
		                                           : -errno;
	}
	if (strncmp(real, fs->rootreal, rl) != 0 || real[rl] != '/') {
		free(real);
		return -TL_EPOLICY;
	}
	rfd = open(real, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	free(real);
	return rfd >= 0 ? rfd : -errno;
}

int prov_fs_open(struct prov_fs *fs, const char *name, struct prov_file **out)
{
	struct prov_file *f = NULL;
	struct prov_map *m;
	struct stat st;
	int err;

	*out = NULL;
	err = prov_fs_name_check(name, strlen(name));
	if (err) {
		return err;
	}
	err = file_new(&f);
	if (err) {
		return err;
	}
	for (m = fs->maps; m; m = m->next) {
		if (strcmp(m->name, name) == 0) {
			break;
		}
	}
	if (m) {
		f->fd = open(m->path,
		             O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
		if (f->fd < 0) {
			err = errno == ENOENT ? -TL_ENOTFOUND : -errno;
			goto out;
		}
	} else {
		if (fs->gen) {
			err = fs->gen(name, &f->mem, fs->gen_arg);
			if (err == 0) {
				err = buf_err(&f->mem);
				if (err) {
					goto out;
				}
				f->size = f->mem.len;
				*out = f;
				return 0;
			}
			if (err != -TL_ENOTFOUND) {
				goto out;
			}
			buf_reset(&f->mem);
		}
		err = open_beneath(fs, name);
		if (err < 0) {
			goto out;
		}
		f->fd = err;
		err = 0;
	}
	if (fstat(f->fd, &st) != 0) {
		err = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		/* Directories, devices and FIFOs are not files we serve. */
		err = S_ISDIR(st.st_mode) ? -TL_ENOTFOUND : -TL_EPOLICY;
		goto out;
	}
	f->size = (uint64_t)st.st_size;
	*out = f;
	f = NULL;
out:
	prov_file_close(f);
	return err;
}

uint64_t prov_file_size(const struct prov_file *f)
{
	return f->size;
}

int prov_file_fd(const struct prov_file *f)
{
	return f->fd;
}

struct slice prov_file_mem(const struct prov_file *f)
{
	if (f->fd >= 0) {
		return SLICE_NULL;
	}
	return buf_slice(&f->mem);
}

int prov_file_read(struct prov_file *f, uint64_t off, void *dst, size_t n,
                   size_t *got)
{
	*got = 0;
	if (off >= f->size || n == 0) {
		return 0;
	}
	if (n > f->size - off) {
		n = (size_t)(f->size - off);
	}
	if (f->fd < 0) {
		memcpy(dst, f->mem.p + off, n);
		*got = n;
		return 0;
	}
	while (*got < n) {
		ssize_t r = pread(f->fd, (uint8_t *)dst + *got, n - *got,
		                  (off_t)(off + *got));

		if (r < 0) {
			if (errno == EINTR) {
				continue;
			}
			return -errno;
		}
		if (r == 0) {
			break; /* the file shrank under us */
		}
		*got += (size_t)r;
	}
	return 0;
}

int prov_file_netascii(struct prov_file *f, size_t max)
{
	struct buf in, outb;
	size_t got, i;
	int err = 0;

	if (f->size > max) {
		return -TL_ETOOBIG;
	}
	buf_init(&in, 0);
	buf_init(&outb, 2 * max + 1);
	if (f->fd >= 0) {
		err = buf_reserve(&in, (size_t)f->size);
		if (err) {
			goto out;
		}
		err = prov_file_read(f, 0, in.p, (size_t)f->size, &got);
		if (err) {
			goto out;
		}
		in.len = got;
	} else {
		in = f->mem;
		buf_init(&f->mem, 0);
	}
	err = buf_reserve(&outb, in.len + in.len / 8 + 16);
	if (err) {
		goto out;
	}
	for (i = 0; i < in.len; i++) {
		/* RFC 764 (via RFC 1350): end of line is CR LF; a bare CR is
		 * CR NUL. */
		if (in.p[i] == '\n') {
			buf_put(&outb, "\r\n", 2);
		} else if (in.p[i] == '\r') {
			buf_put(&outb, "\r\0", 2);
		} else {
			buf_put_u8(&outb, in.p[i]);
		}
	}
	err = buf_err(&outb);
	if (err) {
		goto out;
	}
	if (f->fd >= 0) {
		close(f->fd);
		f->fd = -1;
	}
	buf_free(&f->mem);
	f->mem = outb;
	f->size = outb.len;
	buf_init(&outb, 0);
out:
	buf_free(&in);
	buf_free(&outb);
	return err;
}

void prov_file_close(struct prov_file *f)
{
	if (!f) {
		return;
	}
	if (f->fd >= 0) {
		close(f->fd);
	}
	buf_free(&f->mem);
	free(f);
}
