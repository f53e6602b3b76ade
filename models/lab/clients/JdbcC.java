// JDBC session (PostgreSQL JDBC 42.5 or MariaDB Connector/J 2.7: their own wire-protocol implementations in Java):
//   java -cp DIR:DRIVER.jar JdbcC URL USER PASSWORD SEED
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.Random;

public class JdbcC {
  public static void main(String[] a) throws Exception {
    Random rng = new Random(Long.parseLong(a[3]));
    boolean pg = a[0].startsWith("jdbc:postgresql");
    String table = pg ? "items" : "labdb.items";
    try (Connection c = DriverManager.getConnection(a[0], a[1], a[2])) {
      int n = 1 + rng.nextInt(6);
      for (int i = 0; i < n; i++) {
        int k = rng.nextInt(4);
        if (k == 0) {
          try (Statement s = c.createStatement(); ResultSet r = s.executeQuery("SELECT 1")) { while (r.next()) { } }
        } else if (k == 1) {
          try (PreparedStatement p = c.prepareStatement("SELECT id, name FROM " + table + " WHERE id < ?")) {
            p.setInt(1, 1 + rng.nextInt(300));
            try (ResultSet r = p.executeQuery()) { while (r.next()) { } }
          }
        } else if (k == 2) {
          try (PreparedStatement p = c.prepareStatement("INSERT INTO " + table + "(name, body) VALUES (?, ?)")) {
            p.setString(1, "jdbc" + rng.nextInt(1000));
            p.setString(2, "b".repeat(1 + rng.nextInt(3000)));
            p.executeUpdate();
          }
        } else {
          try (Statement s = c.createStatement(); ResultSet r = s.executeQuery("SELECT count(*) FROM " + table)) { while (r.next()) { } }
        }
        Thread.sleep(rng.nextInt(300));
      }
    }
  }
}
