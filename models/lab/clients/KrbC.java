// Java (OpenJDK 17, its own Kerberos implementation) AS exchange through JAAS Krb5LoginModule:
//   java -Djava.security.krb5.conf=KRB5CONF -cp DIR KrbC PRINCIPAL PASSWORD
import java.util.HashMap;
import java.util.Map;
import javax.security.auth.Subject;
import javax.security.auth.callback.Callback;
import javax.security.auth.callback.NameCallback;
import javax.security.auth.callback.PasswordCallback;
import javax.security.auth.login.AppConfigurationEntry;
import javax.security.auth.login.Configuration;
import javax.security.auth.login.LoginContext;

public class KrbC {
  public static void main(String[] a) throws Exception {
    Map<String, String> opts = new HashMap<>();
    opts.put("refreshKrb5Config", "true");
    opts.put("storeKey", "false");
    Configuration cfg = new Configuration() {
      public AppConfigurationEntry[] getAppConfigurationEntry(String name) {
        return new AppConfigurationEntry[] {new AppConfigurationEntry("com.sun.security.auth.module.Krb5LoginModule",
            AppConfigurationEntry.LoginModuleControlFlag.REQUIRED, opts)};
      }
    };
    LoginContext lc = new LoginContext("lab", new Subject(), cbs -> {
      for (Callback cb : cbs) {
        if (cb instanceof NameCallback) ((NameCallback) cb).setName(a[0]);
        if (cb instanceof PasswordCallback) ((PasswordCallback) cb).setPassword(a[1].toCharArray());
      }
    }, cfg);
    lc.login();
    lc.logout();
  }
}
