"""Real programs on a sealfs mount: cp -a + diff -r, tar, git, sqlite3, and an
editor-style atomic save loop. Each checks its result again after a remount."""

import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from sealfstest import mount as st

INCLUDE = "/usr/include"
COPY_LIMIT = 50 * 1024 * 1024  # bytes of /usr/include copied at most


def include_subset(limit):
    """Top-level entries of /usr/include adding up to at most limit bytes."""
    chosen, total = [], 0
    for name in sorted(os.listdir(INCLUDE)):
        p = os.path.join(INCLUDE, name)
        size = st.tree_bytes(p) if os.path.isdir(p) and not os.path.islink(p) else \
            os.lstat(p).st_size
        if total + size <= limit:
            chosen.append(name)
            total += size
    return chosen, total


class Programs(st.VaultTestCase):
    tag = "programs"

    def note_tree(self, names):
        """Adds the copied names and the longest line of some copied files to
        the leak scan's needles."""
        files = []
        for n in names:
            top = os.path.join(INCLUDE, n)
            for dirpath, dirnames, filenames in os.walk(top):
                self.v.note_names(dirnames + filenames)
                files += [os.path.join(dirpath, f) for f in filenames]
            self.v.note_names([n])
        for p in sorted(files)[::max(1, len(files) // 40)]:
            if os.path.islink(p):
                continue
            with open(p, "rb") as f:
                lines = [x.strip() for x in f.read().splitlines()]
            longest = max(lines, key=len, default=b"")
            if len(longest) >= 24:
                self.v.markers.append(longest)

    def test_cp_a_usr_include_and_diff(self):
        names, total = include_subset(COPY_LIMIT)
        st.log("copying %d entries of %s, %d MB" % (len(names), INCLUDE, total >> 20))
        dest = self.v.path("include")
        os.mkdir(dest)
        st.run(["cp", "-a"] + [os.path.join(INCLUDE, n) for n in names] + [dest], timeout=600)
        self.note_tree(names)
        for n in names:
            st.run(["diff", "-r", "--no-dereference", os.path.join(INCLUDE, n),
                    os.path.join(dest, n)], timeout=600)
        self.v.remount()
        for n in names:
            st.run(["diff", "-r", "--no-dereference", os.path.join(INCLUDE, n),
                    os.path.join(dest, n)], timeout=600)
        shutil.rmtree(dest)

    def test_tar_in_and_out(self):
        names, _ = include_subset(5 * 1024 * 1024)
        tarball = self.v.path("in.tar")
        st.run(["tar", "-C", INCLUDE, "-cf", tarball] + names, timeout=300)
        self.note_tree(names)
        ex = self.v.path("extracted")
        os.mkdir(ex)
        st.run(["tar", "-C", ex, "-xpf", tarball], timeout=300)
        for n in names:
            st.run(["diff", "-r", "--no-dereference", os.path.join(INCLUDE, n),
                    os.path.join(ex, n)])
        self.v.remount()
        out = os.path.join(self.v.root, "out")
        os.mkdir(out)
        try:
            p1 = subprocess.Popen(["tar", "-C", ex, "-cf", "-", "."], stdout=subprocess.PIPE)
            p2 = subprocess.run(["tar", "-C", out, "-xpf", "-"], stdin=p1.stdout,
                                capture_output=True, timeout=300)
            p1.stdout.close()
            self.assertEqual(p1.wait(timeout=300), 0)
            self.assertEqual(p2.returncode, 0, p2.stderr)
            for n in names:
                st.run(["diff", "-r", "--no-dereference", os.path.join(INCLUDE, n),
                        os.path.join(out, n)])
            st.run(["tar", "-tf", tarball])
        finally:
            shutil.rmtree(out)
        shutil.rmtree(ex)
        os.unlink(tarball)

    def git(self, *args, cwd):
        env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.invalid",
                   GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.invalid",
                   GIT_CONFIG_NOSYSTEM="1", HOME=self.v.root)
        return st.run(["git"] + list(args), cwd=cwd, env=env)

    def test_git_init_add_commit_status_log(self):
        repo = self.v.path("repo")
        os.mkdir(repo)
        self.git("init", "-q", "-b", "main", cwd=repo)
        marker = self.v.marker("gitcontent")
        for i in range(30):
            with open(os.path.join(repo, "file%02d.txt" % i), "w") as f:
                f.write("%s line %d\n" % (marker, i) * (i + 1))
        self.git("add", ".", cwd=repo)
        self.git("commit", "-q", "-m", "first", cwd=repo)
        with open(os.path.join(repo, "file00.txt"), "a") as f:
            f.write("changed\n")
        self.assertIn("file00.txt", self.git("status", "--porcelain", cwd=repo).stdout)
        self.git("commit", "-q", "-am", "second", cwd=repo)
        self.assertEqual(self.git("status", "--porcelain", cwd=repo).stdout, "")
        self.v.remount()
        self.assertEqual(self.git("status", "--porcelain", cwd=repo).stdout, "")
        log = self.git("log", "--format=%s", cwd=repo).stdout.split()
        self.assertEqual(log, ["second", "first"])
        self.git("fsck", "--strict", "--no-progress", cwd=repo)
        self.git("gc", "-q", cwd=repo)
        self.git("fsck", "--strict", "--no-progress", cwd=repo)
        shutil.rmtree(repo)

    def sqlite(self, db, sql):
        return st.run(["sqlite3", "-bail", db], input=sql, timeout=300).stdout

    def check_sqlite(self, journal):
        db = self.v.path("db-%s.sqlite" % journal)
        marker = self.v.marker("sqlrow")
        self.sqlite(db, "PRAGMA journal_mode=%s;\n"
                        "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT);\n" % journal)
        for batch in range(5):
            rows = "".join("INSERT INTO t(v) VALUES('%s-%d-%d');\n" % (marker, batch, i)
                           for i in range(400))
            self.sqlite(db, "BEGIN;\n%sCOMMIT;\n" % rows)
        self.sqlite(db, "BEGIN;\nDELETE FROM t;\nROLLBACK;\n")
        self.sqlite(db, "BEGIN;\nUPDATE t SET v = v || 'x' WHERE id % 7 = 0;\nCOMMIT;\n")
        self.assertEqual(self.sqlite(db, "PRAGMA integrity_check;\n").strip(), "ok")
        self.assertEqual(self.sqlite(db, "SELECT count(*) FROM t;\n").strip(), "2000")
        self.sqlite(db, "VACUUM;\n")
        self.v.remount()
        self.assertEqual(self.sqlite(db, "PRAGMA integrity_check;\n").strip(), "ok")
        self.assertEqual(self.sqlite(db, "SELECT count(*) FROM t WHERE v LIKE '%x';\n").strip(),
                         str(len([i for i in range(1, 2001) if i % 7 == 0])))

    def test_sqlite3_rollback_journal(self):
        self.check_sqlite("delete")

    def test_sqlite3_wal(self):
        self.check_sqlite("wal")

    def test_editor_atomic_save_loop(self):
        target = self.v.path("document.txt")
        with open(target, "w") as f:
            f.write("start\n")
        marker = self.v.marker("editor")
        dfd = os.open(self.v.mnt, os.O_RDONLY | os.O_DIRECTORY)
        try:
            for i in range(200):
                text = ("%s revision %d\n" % (marker, i)) * (1 + i % 50)
                tmp = self.v.path(".document.txt.swp")
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
                os.write(fd, text.encode())
                os.fsync(fd)
                os.close(fd)
                os.rename(tmp, target)
                if i % 20 == 0:
                    os.fsync(dfd)
                with open(target) as f:
                    self.assertEqual(f.read(), text)
        finally:
            os.close(dfd)
        self.assertFalse(os.path.exists(self.v.path(".document.txt.swp")))
        self.v.remount()
        with open(target) as f:
            self.assertEqual(f.read(), text)


if __name__ == "__main__":
    st.main()
