/* WAV files through libsndfile: 16-bit PCM, mono, 8000 Hz. A writer writes
 * a temporary file beside the target and renames it when finished. */
#include "media/media.h"

#include <errno.h>
#include <fcntl.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct media_wav {
	SNDFILE *sf;
	bool writer;
	size_t frames;
	int err; /* first write error, reported by close */
	char *path;
	char *tmp;
};

static void wav_release(struct media_wav *w)
{
	free(w->path);
	free(w->tmp);
	free(w);
}

int media_wav_open_read(struct media_wav **out, const char *path)
{
	struct media_wav *w;
	SF_INFO info;
	int err;

	*out = NULL;
	w = calloc(1, sizeof(*w));
	if (!w) {
		return -ENOMEM;
	}
	memset(&info, 0, sizeof(info));
	w->sf = sf_open(path, SFM_READ, &info);
	if (!w->sf) {
		err = access(path, R_OK) == 0 ? -TL_EPARSE : -errno;
		goto fail;
	}
	if (info.channels != 1 || info.samplerate != MEDIA_RATE ||
	    info.frames < 0) {
		err = -TL_EPARSE;
		goto fail;
	}
	w->frames = (size_t)info.frames;
	*out = w;
	return 0;
fail:
	if (w->sf) {
		sf_close(w->sf);
	}
	wav_release(w);
	return err;
}

int media_wav_read(struct media_wav *w, int16_t *pcm, size_t n, size_t *got)
{
	sf_count_t r;

	*got = 0;
	if (w->writer) {
		return -TL_ESTATE;
	}
	r = sf_read_short(w->sf, pcm, (sf_count_t)n);
	if (r < 0) {
		return -EIO;
	}
	if (r == 0 && sf_error(w->sf) != SF_ERR_NO_ERROR) {
		return -EIO;
	}
	*got = (size_t)r;
	return 0;
}

int media_wav_rewind(struct media_wav *w)
{
	if (w->writer) {
		return -TL_ESTATE;
	}
	return sf_seek(w->sf, 0, SEEK_SET) < 0 ? -EIO : 0;
}

int media_wav_open_write(struct media_wav **out, const char *path)
{
	struct media_wav *w;
	SF_INFO info;
	size_t plen = strlen(path);
	int fd = -1;
	int err;

	*out = NULL;
	w = calloc(1, sizeof(*w));
	if (!w) {
		return -ENOMEM;
	}
	w->writer = true;
	w->path = strdup(path);
	w->tmp = malloc(plen + sizeof(".tmpXXXXXX"));
	if (!w->path || !w->tmp) {
		err = -ENOMEM;
		goto fail;
	}
	memcpy(w->tmp, path, plen);
	memcpy(w->tmp + plen, ".tmpXXXXXX", sizeof(".tmpXXXXXX"));
	fd = mkstemp(w->tmp);
	if (fd < 0) {
		err = -errno;
		goto fail;
	}
	memset(&info, 0, sizeof(info));
	info.samplerate = MEDIA_RATE;
	info.channels = 1;
	info.format = SF_FORMAT_WAV | SF_FORMAT_PCM_16;
	w->sf = sf_open_fd(fd, SFM_WRITE, &info, SF_TRUE);
	if (!w->sf) {
		err = -EIO;
		close(fd);
		unlink(w->tmp);
		goto fail;
	}
	/* mkstemp makes the file 0600; a recording is not a secret. */
	(void)fchmod(fd, 0644);
	*out = w;
	return 0;
fail:
	wav_release(w);
	return err;
}

int media_wav_write(struct media_wav *w, const int16_t *pcm, size_t n)
{
	if (!w->writer) {
		return -TL_ESTATE;
	}
	if (w->err) {
		return w->err;
	}
	while (n > 0) {
		size_t chunk = n > 65536 ? 65536 : n;
		sf_count_t r = sf_write_short(w->sf, pcm, (sf_count_t)chunk);

		if (r != (sf_count_t)chunk) {
			w->err = -EIO;
			return w->err;
		}
		w->frames += chunk;
		pcm += chunk;
		n -= chunk;
	}
	return 0;
}

size_t media_wav_frames(const struct media_wav *w)
{
	return w->frames;
}

int media_wav_close(struct media_wav *w)
{
	int err = 0;

	if (!w) {
		return 0;
	}
	if (!w->writer) {
		sf_close(w->sf);
		wav_release(w);
		return 0;
	}
	err = w->err;
	/* sf_close rewrites the header with the final lengths. */
	if (sf_close(w->sf) != 0 && !err) {
		err = -EIO;
	}
	if (!err && rename(w->tmp, w->path) != 0) {
		err = -errno;
	}
	if (err) {
		unlink(w->tmp);
	}
	wav_release(w);
	return err;
}

void media_wav_free(struct media_wav *w)
{
	if (!w) {
		return;
	}
	sf_close(w->sf);
	if (w->writer) {
		unlink(w->tmp);
	}
	wav_release(w);
}

int media_wav_load(const char *path, int16_t **pcm, size_t *n)
{
	struct media_wav *w = NULL;
	int16_t *p = NULL;
	size_t got = 0, total;
	int err;

	*pcm = NULL;
	*n = 0;
	err = media_wav_open_read(&w, path);
	if (err) {
		return err;
	}
	total = w->frames;
	p = malloc((total ? total : 1) * sizeof(*p));
	if (!p) {
		err = -ENOMEM;
		goto out;
	}
	err = media_wav_read(w, p, total, &got);
	if (err) {
		goto out;
	}
	if (got != total) {
		err = -TL_ETRUNC;
		goto out;
	}
	*pcm = p;
	*n = total;
	p = NULL;
out:
	free(p);
	media_wav_free(w);
	return err;
}

int media_wav_save(const char *path, const int16_t *pcm, size_t n)
{
	struct media_wav *w;
	int err;

	err = media_wav_open_write(&w, path);
	if (err) {
		return err;
	}
	err = media_wav_write(w, pcm, n);
	if (err) {
		media_wav_free(w);
		return err;
	}
	return media_wav_close(w);
}
