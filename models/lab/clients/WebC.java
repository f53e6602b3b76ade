// Java 17 java.net.http client (JSSE TLS; HTTP/2 by ALPN, h2c upgrade attempt on cleartext unless h1):
//   java -cp DIR WebC BASEURL h1|h2 SEED PATH...
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509TrustManager;

public class WebC {
  public static void main(String[] a) throws Exception {
    System.setProperty("jdk.internal.httpclient.disableHostnameVerification", "true");
    TrustManager[] all = {new X509TrustManager() {
      public void checkClientTrusted(X509Certificate[] c, String t) {}
      public void checkServerTrusted(X509Certificate[] c, String t) {}
      public X509Certificate[] getAcceptedIssuers() { return new X509Certificate[0]; }
    }};
    SSLContext ssl = SSLContext.getInstance("TLS");
    ssl.init(null, all, new java.security.SecureRandom());
    Random rng = new Random(Long.parseLong(a[2]));
    HttpClient c = HttpClient.newBuilder().sslContext(ssl).connectTimeout(Duration.ofSeconds(20))
        .version(a[1].equals("h1") ? HttpClient.Version.HTTP_1_1 : HttpClient.Version.HTTP_2).build();
    boolean async = rng.nextBoolean();
    List<CompletableFuture<HttpResponse<byte[]>>> fs = new ArrayList<>();
    for (int i = 3; i < a.length; i++) {
      HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(a[0] + "/" + a[i])).timeout(Duration.ofSeconds(30));
      if (a[i].startsWith("upload")) b.POST(HttpRequest.BodyPublishers.ofString("j".repeat(1 + rng.nextInt(20000))));
      HttpRequest r = b.build();
      if (async) fs.add(c.sendAsync(r, HttpResponse.BodyHandlers.ofByteArray()));
      else c.send(r, HttpResponse.BodyHandlers.ofByteArray());
    }
    for (CompletableFuture<HttpResponse<byte[]>> f : fs) f.get();
    System.exit(0);
  }
}
