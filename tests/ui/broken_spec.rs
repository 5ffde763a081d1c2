// A spec error fails the build with the spec's file:line:column.
mod api {
    gatehouse::spec!("../../../../tests/ui/broken_spec.yaml");
}

fn main() {}
