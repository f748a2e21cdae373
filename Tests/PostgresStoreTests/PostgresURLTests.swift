import PostgresStore
import Testing

@Suite struct PostgresURLTests {
    @Test func fullURL_isParsed_andShownWithoutItsPassword() throws {
        let url = try PostgresURL("postgresql://lab:s%40cret%3Aword@db.example:6543/history?sslmode=require")
        #expect(url.user == "lab")
        #expect(url.password == "s@cret:word")
        #expect(url.host == "db.example")
        #expect(url.port == 6543)
        #expect(url.database == "history")
        #expect(url.tls == .require)
        #expect(url.redacted == "postgresql://lab@db.example:6543/history")
        #expect(!"\(url)".contains("cret"))
    }

    @Test func shortForms_takeLibpqsDefaults() throws {
        let url = try PostgresURL("postgres://lab@localhost/lab")
        #expect(url.password == nil)
        #expect(url.port == 5432)
        #expect(url.tls == .prefer)
        #expect(try PostgresURL("postgresql://u:p@[::1]:5433/d").host == "::1")
        #expect(try PostgresURL("POSTGRESQL://u@h/d?sslmode=verify-full").tls == .verifyFull)
        #expect(PostgresURL.isPostgres("postgres://x"))
        #expect(!PostgresURL.isPostgres("/var/lib/lab.sqlite"))
        #expect(!PostgresURL.isPostgres(":memory:"))
    }

    @Test(arguments: [
        ("postgresql://:hunter2@host/db", "no user"),
        ("postgresql://lab:hunter2@/db", "no host"),
        ("postgresql://lab:hunter2@host", "one database"),
        ("postgresql://lab:hunter2@host/db/extra", "one database"),
        ("postgresql://lab:hunter2@host:0/db", "port"),
        ("postgresql://lab:hunter2@host/db?sslmode=always", "sslmode"),
        ("postgresql://lab:hunter2@host/db?schema=x", "unknown parameter 'schema'"),
        ("postgresql://lab:hunter2@host:port/db", "not a valid URL"),
    ])
    func malformedURL_isRefused_sayingWhy_withoutThePassword(_ text: String, _ reason: String) {
        #expect {
            _ = try PostgresURL(text)
        } throws: { error in
            let description = "\(error)"
            return description.contains(reason) && !description.contains("hunter2")
                && description.contains("postgresql://USER[:PASSWORD]@HOST[:PORT]/DBNAME")
        }
    }
}
