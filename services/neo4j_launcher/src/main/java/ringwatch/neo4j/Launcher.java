package ringwatch.neo4j;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.CountDownLatch;

import java.time.Duration;

import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.connectors.BoltConnectorInternalSettings;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.dbms.api.DatabaseManagementServiceBuilder;
import org.neo4j.graphdb.GraphDatabaseService;

/**
 * Runs Neo4j Community embedded, with its Bolt connector on one loopback address.
 *
 * <p>Usage: {@code Launcher HOME HOST PORT PASSWORD_FILE PAGECACHE_MB}. HOME is the DBMS
 * home (data and logs go under it); PASSWORD_FILE holds the password of the built-in
 * {@code neo4j} user (read here, never passed on the command line, where {@code ps}
 * would show it). Authentication is always on. The launcher prints {@code READY <uri>} once
 * Bolt accepts connections and the password is in force, or {@code FAILED <reason>} and
 * exits 1. SIGTERM (or SIGINT) runs a shutdown hook that checkpoints and closes the store.
 */
public final class Launcher {

    private static final String ADMIN_USER = "neo4j";
    private static final String SAME_PASSWORD = "Old password and new password cannot be the same";

    private Launcher() {}

    public static void main(String[] args) throws Exception {
        if (args.length != 5) {
            System.out.println("FAILED usage: Launcher HOME HOST PORT PASSWORD_FILE PAGECACHE_MB");
            System.exit(2);
        }
        Path home = Path.of(args[0]);
        String host = args[1];
        int port = Integer.parseInt(args[2]);
        String password = Files.readString(Path.of(args[3]), StandardCharsets.UTF_8).strip();
        long pagecacheBytes = Long.parseLong(args[4]) * 1024L * 1024L;

        DatabaseManagementService dbms;
        try {
            dbms = new DatabaseManagementServiceBuilder(home)
                    .setConfig(BoltConnector.enabled, true)
                    .setConfig(BoltConnector.listen_address, new SocketAddress(host, port))
                    .setConfig(BoltConnector.advertised_address, new SocketAddress(host, port))
                    .setConfig(BoltConnector.encryption_level, BoltConnector.EncryptionLevel.DISABLED)
                    .setConfig(GraphDatabaseSettings.auth_enabled, true)
                    .setConfig(GraphDatabaseSettings.pagecache_memory, pagecacheBytes)
                    .setConfig(GraphDatabaseSettings.keep_logical_logs, "2 files")
                    // A local tool: no usage reports, and no 2 x 5 s grace period on stop.
                    .setConfig(GraphDatabaseSettings.udc_enabled, false)
                    .setConfig(BoltConnectorInternalSettings.thread_pool_shutdown_wait_time, Duration.ofSeconds(1))
                    .setConfig(BoltConnectorInternalSettings.connection_shutdown_wait_time, Duration.ofSeconds(1))
                    .build();
        } catch (Exception e) {
            System.out.println("FAILED " + rootMessage(e));
            System.out.flush();
            System.exit(1);
            return;
        }

        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            System.out.println("STOPPING");
            System.out.flush();
            dbms.shutdown();
            System.out.println("STOPPED");
            System.out.flush();
            stopped.countDown();
        }, "ringwatch-neo4j-shutdown"));

        try {
            setPassword(dbms.database(GraphDatabaseSettings.SYSTEM_DATABASE_NAME), password);
        } catch (Exception e) {
            System.out.println("FAILED could not set the neo4j password: " + rootMessage(e));
            System.out.flush();
            System.exit(1);
        }

        System.out.println("READY bolt://" + host + ":" + port);
        System.out.flush();
        stopped.await();
    }

    /** Make {@code password} the admin user's password (idempotent; no change required at login). */
    private static void setPassword(GraphDatabaseService system, String password) {
        try {
            system.executeTransactionally(
                    "ALTER USER " + ADMIN_USER + " SET PASSWORD $password CHANGE NOT REQUIRED",
                    Map.of("password", password));
        } catch (RuntimeException e) {
            if (!rootMessage(e).contains(SAME_PASSWORD)) {
                throw e;
            }
        }
    }

    private static String rootMessage(Throwable e) {
        Throwable t = e;
        while (t.getCause() != null && t.getCause() != t) {
            t = t.getCause();
        }
        String message = t.getMessage() == null ? t.getClass().getName() : t.getMessage();
        return message.replace('\n', ' ');
    }
}
