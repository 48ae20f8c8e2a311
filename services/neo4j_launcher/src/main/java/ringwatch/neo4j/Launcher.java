package ringwatch.neo4j;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Comparator;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;

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
 *
 * <p>Store swap without a JVM restart: when a file {@code swap.request} appears in HOME holding
 * the path of a staging home built by {@code neo4j-admin database import full}, the launcher
 * prints {@code SWAPPING}, shuts the DBMS down, replaces the {@code neo4j} database's store and
 * transaction logs with the staged ones, deletes the request, starts the DBMS again in this JVM
 * (classes loaded and compiled already: seconds, not a cold start) and prints {@code READY} again.
 */
public final class Launcher {

    private static final String ADMIN_USER = "neo4j";
    private static final String DATABASE = "neo4j";
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

        AtomicReference<DatabaseManagementService> dbms = new AtomicReference<>();
        try {
            dbms.set(build(home, host, port, pagecacheBytes));
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
            synchronized (dbms) {
                try {
                    dbms.get().shutdown();
                } catch (RuntimeException e) {
                    System.out.println("shutdown: " + rootMessage(e));
                }
            }
            System.out.println("STOPPED");
            System.out.flush();
            stopped.countDown();
        }, "ringwatch-neo4j-shutdown"));

        try {
            setPassword(dbms.get().database(GraphDatabaseSettings.SYSTEM_DATABASE_NAME), password);
        } catch (Exception e) {
            System.out.println("FAILED could not set the neo4j password: " + rootMessage(e));
            System.out.flush();
            System.exit(1);
        }

        System.out.println("READY bolt://" + host + ":" + port);
        System.out.flush();
        Path request = home.resolve("swap.request");
        while (!stopped.await(100, TimeUnit.MILLISECONDS)) {
            if (!Files.isRegularFile(request)) {
                continue;
            }
            String failure = null;
            synchronized (dbms) {
                try {
                    Path staging = Path.of(Files.readString(request, StandardCharsets.UTF_8).strip());
                    System.out.println("SWAPPING " + staging);
                    System.out.flush();
                    dbms.get().shutdown();
                    for (String kind : new String[] {"databases", "transactions"}) {
                        Path live = home.resolve("data").resolve(kind).resolve(DATABASE);
                        deleteTree(live);
                        Files.createDirectories(live.getParent());
                        Files.move(staging.resolve("data").resolve(kind).resolve(DATABASE), live, StandardCopyOption.ATOMIC_MOVE);
                    }
                    Files.delete(request);
                    dbms.set(build(home, host, port, pagecacheBytes));
                } catch (Exception e) {
                    failure = rootMessage(e);
                }
            }
            if (failure != null) {
                // Outside the lock: exit runs the shutdown hook, which takes it.
                System.out.println("FAILED store swap: " + failure);
                System.out.flush();
                System.exit(1);
            }
            System.out.println("READY bolt://" + host + ":" + port);
            System.out.flush();
        }
    }

    private static DatabaseManagementService build(Path home, String host, int port, long pagecacheBytes) {
        return new DatabaseManagementServiceBuilder(home)
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
    }

    private static void deleteTree(Path root) throws IOException {
        if (!Files.exists(root)) {
            return;
        }
        try (Stream<Path> paths = Files.walk(root)) {
            for (Path p : (Iterable<Path>) paths.sorted(Comparator.reverseOrder())::iterator) {
                Files.delete(p);
            }
        }
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
