package io.snakepit.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.grpc.ManagedChannel;
import io.snakepit.proto.ExecuteRequest;
import io.snakepit.proto.GatewayGrpc;
import io.snakepit.shim.ProcStat;
import io.snakepit.testing.Procs;
import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Predicate;
import java.util.stream.StreamSupport;
import org.junit.jupiter.api.Test;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;

/**
 * The dashboard in a real headless Chromium (Debian's chromium and chromium-driver, driven by Selenium; nothing is
 * downloaded): it lists a node's workers with their real pids, its charts count calls, a worker killed with SIGKILL
 * is seen replaced with its exit in the events, and a node that stops answering shows a banner until it is back; on
 * an address that needs the token, the page asks for it and takes it from its address's fragment.
 */
class DashboardBrowserIT {
  private static final Path CHROMIUM = Path.of("/usr/bin/chromium");
  private static final Path CHROMEDRIVER = Path.of("/usr/bin/chromedriver");
  private static final Duration LIMIT = Duration.ofSeconds(30);
  private static final ObjectMapper JSON = new ObjectMapper();
  /** What the page shows, read in one go inside the page (its tables are redrawn at every poll). */
  private static final String READ_PAGE = """
      const pool = document.querySelector('section.pool[data-pool="default"]');
      const rows = pool ? [...pool.querySelectorAll('tr.worker')].map(r => ({worker: r.dataset.worker,
          slot: Number(r.dataset.slot), pid: r.dataset.pid, state: r.dataset.state, text: r.innerText})) : [];
      const events = [...document.querySelectorAll('#events tr.event')].map(r => ({event: r.dataset.event,
          worker: r.dataset.worker, pid: r.dataset.pid, text: r.innerText}));
      const calls = pool && pool.querySelector('[data-fact="calls"]');
      const rate = pool && pool.querySelector('svg.rate');
      const banner = document.getElementById('banner');
      return JSON.stringify({rows, events, total: calls && calls.dataset.total ? Number(calls.dataset.total) : -1,
          peak: rate && rate.dataset.peak ? Number(rate.dataset.peak) : -1,
          banner: banner.hidden ? null : banner.innerText});
      """;

  /** The node's Python workers by pid, as /proc shows them under its JVM. */
  private static Set<Integer> pythons(Nodes.Node node) {
    Set<Integer> pids = new LinkedHashSet<>();
    for (Procs.Proc p : Nodes.tree(node)) {
      String cmdline = Procs.cmdline(p.pid());
      if (cmdline.contains("snakepit_worker") && !cmdline.contains("snakepit-shim")) {
        pids.add(p.pid());
      }
    }
    return pids;
  }

  /** Every process of this browser: the driver and Chromium under this JVM, and any that carry its profile. */
  private static Set<Procs.Proc> browserProcesses(Path profile) {
    Set<Procs.Proc> found = new LinkedHashSet<>();
    for (Procs.Proc p : Procs.descendants((int) ProcessHandle.current().pid())) {
      String cmdline = Procs.cmdline(p.pid());
      if (cmdline.contains("chromedriver") || cmdline.contains("chromium") || cmdline.contains(profile.toString())) {
        found.add(p);
      }
    }
    for (ProcStat s : ProcStat.all()) {
      if (s.state() != 'Z' && Procs.cmdline(s.pid()).contains(profile.toString())) {
        found.add(new Procs.Proc(s.pid(), s.startTime()));
      }
    }
    return found;
  }

  private static JsonNode read(ChromeDriver driver) throws Exception {
    return JSON.readTree((String) driver.executeScript(READ_PAGE));
  }

  /** Reads the page until {@code done} holds of it, for at most {@link #LIMIT}; fails with what it showed last. */
  private static JsonNode await(ChromeDriver driver, String what, Predicate<JsonNode> done) throws Exception {
    long deadline = System.nanoTime() + LIMIT.toNanos();
    JsonNode page = read(driver);
    while (!done.test(page) && System.nanoTime() < deadline) {
      Thread.sleep(250);
      page = read(driver);
    }
    if (!done.test(page)) {
      screenshot(driver, "dashboard-failed");
      throw new AssertionError("within " + LIMIT.toSeconds() + " s the page did not show " + what + "; it showed "
          + page.toPrettyString());
    }
    return page;
  }

  /** The page as it looks, in target/ (for a person to look at). */
  private static void screenshot(ChromeDriver driver, String name) throws Exception {
    Path target = Path.of("target");
    if (Files.isDirectory(target)) {
      Files.copy(driver.getScreenshotAs(OutputType.FILE).toPath(), target.resolve(name + ".png"),
          StandardCopyOption.REPLACE_EXISTING);
    }
  }

  /** Slot to pid of the workers the page lists (those that show a pid). */
  private static Map<Integer, Integer> pidsBySlot(JsonNode page) {
    Map<Integer, Integer> bySlot = new TreeMap<>();
    for (JsonNode row : page.get("rows")) {
      if (!row.get("pid").asText().isEmpty()) {
        bySlot.put(row.get("slot").asInt(), Integer.parseInt(row.get("pid").asText()));
      }
    }
    return bySlot;
  }

  private static boolean listsExactly(JsonNode page, Set<Integer> pids) {
    return page.get("rows").size() == pids.size() && Set.copyOf(pidsBySlot(page).values()).equals(pids);
  }

  private static JsonNode row(JsonNode page, int slot) {
    return StreamSupport.stream(page.get("rows").spliterator(), false).filter(r -> r.get("slot").asInt() == slot)
        .findFirst().orElseThrow(() -> new AssertionError("no worker of slot " + slot + " on the page: " + page));
  }

  /**
   * A headless Chromium under Selenium, with its own profile; closing it quits it and asserts that none of its
   * processes outlives it (those left are killed by pid, and the test fails).
   */
  private static final class Browser implements AutoCloseable {
    final Path profile;
    final ChromeDriver driver;
    final Set<Procs.Proc> processes = new LinkedHashSet<>();

    Browser() throws Exception {
      assumeTrue(Files.isExecutable(CHROMIUM) && Files.isExecutable(CHROMEDRIVER), "the browser test needs "
          + CHROMIUM + " and " + CHROMEDRIVER + " (Debian: apt-get install chromium chromium-driver); "
          + (Files.isExecutable(CHROMIUM) ? "" : CHROMIUM + " is missing; ")
          + (Files.isExecutable(CHROMEDRIVER) ? "" : CHROMEDRIVER + " is missing"));
      profile = Files.createTempDirectory("snakepit-chromium");
      // The driver and the browser are named outright, so that Selenium never looks for (or downloads) either.
      ChromeDriverService service = new ChromeDriverService.Builder()
          .usingDriverExecutable(CHROMEDRIVER.toFile()).usingAnyFreePort()
          .withLogFile(new File(profile.toFile(), "chromedriver.log")).build();
      ChromeOptions options = new ChromeOptions();
      options.setBinary(CHROMIUM.toFile());
      options.addArguments("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1000",
          "--user-data-dir=" + profile.resolve("profile"));
      driver = new ChromeDriver(service, options);
      see();
    }

    /** Notes the browser's processes now (a page opened may have started more). */
    void see() {
      processes.addAll(browserProcesses(profile));
    }

    void open(String url) {
      driver.get(url);
      see();
    }

    @Override
    public void close() throws Exception {
      see();
      driver.quit();
      List<Procs.Proc> left = Procs.awaitGone(new ArrayList<>(processes), Duration.ofSeconds(15));
      for (Procs.Proc p : left) {
        Procs.kill(p.pid(), 9);
      }
      assertTrue(left.isEmpty(), "browser processes outlived the test (killed now): " + left);
      assertTrue(!processes.isEmpty(), "the test saw the browser's processes");
      // The profile (some megabytes) goes with the browser.
      try (var files = Files.walk(profile)) {
        files.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
      }
    }
  }

  @Test
  void thePageShowsTheWorkersAndAKilledOneReplacedAndANodeThatStopsAnswering() throws Exception {
    Path dataDir = Files.createTempDirectory("snakepit-data");
    int httpPort = Nodes.freePort();
    Nodes.Node node = null;
    try (Browser browser = new Browser()) {
      ChromeDriver driver = browser.driver;
      node = Nodes.serveIn(dataDir, "--workers", "2", "--http", "127.0.0.1:" + httpPort);
      browser.open("http://127.0.0.1:" + httpPort + "/");

      Set<Integer> workers = pythons(node);
      assertEquals(2, workers.size(), Nodes.tree(node)::toString);
      for (int pid : workers) {
        assertTrue(Procs.cmdline(pid).contains("snakepit_worker"), pid + ": " + Procs.cmdline(pid));
      }
      JsonNode shown = await(driver, "both workers with the pids " + workers, p -> listsExactly(p, workers));
      for (JsonNode row : shown.get("rows")) {
        assertTrue(row.get("text").asText().contains(row.get("pid").asText()), "the pid is on the page: " + row);
      }
      browser.see();

      ManagedChannel gateway = node.channel();
      try {
        for (int i = 0; i < 6; i++) {
          GatewayGrpc.newBlockingStub(gateway).execute(ExecuteRequest.newBuilder().setTool("ping")
              .setArgsJson("{}").build());
        }
      } finally {
        gateway.shutdownNow();
      }
      await(driver, "the 6 calls in the call-rate chart and its counter",
          p -> p.get("total").asInt() >= 6 && p.get("peak").asDouble() > 0);

      int slot = pidsBySlot(shown).keySet().iterator().next();
      int killed = pidsBySlot(shown).get(slot);
      String killedWorker = row(shown, slot).get("worker").asText();
      Procs.kill(killed, 9);
      JsonNode replaced = await(driver, "slot " + slot + " served by a new pid, " + killed + " gone, and the exit"
          + " of " + killedWorker + " in the events", p -> {
            Integer now = pidsBySlot(p).get(slot);
            boolean gone = StreamSupport.stream(p.get("rows").spliterator(), false)
                .noneMatch(r -> r.get("pid").asText().equals(String.valueOf(killed)));
            boolean exit = StreamSupport.stream(p.get("events").spliterator(), false)
                .anyMatch(e -> e.get("event").asText().equals("WorkerExited")
                    && e.get("pid").asText().equals(String.valueOf(killed))
                    && e.get("text").asText().contains("killed"));
            return now != null && now != killed && gone && exit && p.get("rows").size() == 2;
          });
      int replacement = pidsBySlot(replaced).get(slot);
      assertNotEquals(killed, replacement);
      assertTrue(Procs.cmdline(replacement).contains("snakepit_worker"),
          "the new pid on the page is the node's new Python worker: " + Procs.cmdline(replacement));
      assertEquals(pythons(node), Set.copyOf(pidsBySlot(replaced).values()));
      assertTrue(row(replaced, slot).get("text").asText().contains(killedWorker),
          "the slot's last exit names the killed worker: " + row(replaced, slot));
      screenshot(driver, "dashboard");

      // The node goes: the page says so; a node on the same address comes back: the page shows it again.
      node.close();
      await(driver, "a banner saying that the node is not answering",
          p -> !p.get("banner").isNull() && p.get("banner").asText().contains("not answering"));
      screenshot(driver, "dashboard-node-gone");
      node = Nodes.serveIn(dataDir, "--workers", "2", "--http", "127.0.0.1:" + httpPort);
      Set<Integer> again = pythons(node);
      await(driver, "the banner gone and the new node's workers " + again,
          p -> p.get("banner").isNull() && listsExactly(p, again));
    } finally {
      if (node != null) {
        node.close();
      }
    }
  }

  @Test
  void onAReachableAddressThePageTakesTheTokenFromItsFragment() throws Exception {
    int httpPort = Nodes.freePort();
    try (Browser browser = new Browser();
        Nodes.Node node = Nodes.serve("--workers", "1", "--http", "0.0.0.0:" + httpPort, "--insecure")) {
      ChromeDriver driver = browser.driver;
      String page = "http://127.0.0.1:" + httpPort + "/";
      browser.open(page);
      await(driver, "a banner asking for the token", p -> !p.get("banner").isNull()
          && p.get("banner").asText().contains("#token=TOKEN") && p.get("events").size() == 0);

      String token = GatewayToken.read(node.tokenFile());
      browser.open("about:blank");
      browser.open(page + "#token=" + token);
      int worker = pythons(node).iterator().next();
      await(driver, "the worker " + worker + " with the token sent", p -> p.get("banner").isNull()
          && listsExactly(p, Set.of(worker)) && StreamSupport.stream(p.get("events").spliterator(), false)
              .anyMatch(e -> e.get("event").asText().equals("WorkerReady")
                  && e.get("pid").asText().equals(String.valueOf(worker))));
      assertEquals(page, driver.getCurrentUrl(), "the token is taken out of the address bar");
      driver.navigate().refresh();
      await(driver, "the worker again after a reload (the tab keeps the token)",
          p -> p.get("banner").isNull() && listsExactly(p, Set.of(worker)));
    }
  }
}
