import java.io.File;
import java.net.InetSocketAddress;
import org.eclipse.jgit.transport.Daemon;
import org.eclipse.jgit.transport.resolver.FileResolver;

/** JGit's git:// daemon (Eclipse JGit 4.11): JGitDaemon ADDRESS PORT BASEDIR. Serves every repository under
 *  BASEDIR (upload-pack, upload-archive off, receive-pack on), until it is killed. */
public class JGitDaemon {
    public static void main(String[] a) throws Exception {
        Daemon d = new Daemon(new InetSocketAddress(a[0], Integer.parseInt(a[1])));
        FileResolver<org.eclipse.jgit.transport.DaemonClient> r = new FileResolver<>(new File(a[2]), true);
        d.setRepositoryResolver(r);
        d.getService("git-receive-pack").setEnabled(true);
        d.start();
        System.err.println("jgit daemon listening on " + a[0] + ":" + a[1]);
        Thread.currentThread().join();
    }
}
